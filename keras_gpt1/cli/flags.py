"""Flags shared by several commands."""

import argparse
import dataclasses


def add_xla_flag(p, training=False):
    if training:
        p.add_argument("--xla", action=argparse.BooleanOptionalAction, default=None,
                       help="compile the training step with XLA (default: on, "
                       "except mixed_bfloat16 on a CPU, where TensorFlow's oneDNN "
                       "kernels are faster)")
        return
    p.add_argument("--xla", action=argparse.BooleanOptionalAction, default=True,
                   help="compile with XLA (default on; --no-xla to turn off)")


def config_from_args(config_class, args, **values):
    """`config_class(...)` (a dataclass) with each field taken from the flag
    of the same name; `values` give the others."""
    names = {field.name for field in dataclasses.fields(config_class)}
    taken = {name: getattr(args, name) for name in names if hasattr(args, name)}
    return config_class(**{**taken, **values})


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def add_scale_flags(p):
    """--strategy and --precision (pretrain, finetune)."""
    from keras_gpt1.choices import PRECISIONS
    from keras_gpt1.choices import STRATEGIES

    p.add_argument("--strategy", default="auto", choices=STRATEGIES,
                   help="tf.distribute strategy (default auto: multi_worker when "
                   "TF_CONFIG names a cluster, mirrored on several GPUs, else one "
                   "device); --batch-size is the global batch")
    p.add_argument("--precision", default="auto", choices=PRECISIONS,
                   help="training dtype policy (default auto: mixed_bfloat16 on a "
                   "CPU with bfloat16 instructions and no GPU, else float32; the "
                   "saved model is float32 either way)")
