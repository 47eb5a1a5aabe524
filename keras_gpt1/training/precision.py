"""`--precision`: the dtype policy training runs in.

- `float32`: everything in float32 (the default: fastest measured on the
  CPUs this project runs on, see docs/benchmarks.md).
- `mixed_bfloat16`: matmuls and activations in bfloat16, variables in
  float32 (TPUs, recent GPUs, CPUs with AMX).
- `mixed_float16`: as above in float16, with dynamic loss scaling
  (`keras.optimizers.LossScaleOptimizer`) so small gradients don't
  underflow.

Logits and losses stay float32 in every mode (the LM head and the task
head compute in float32). The model saved after training is float32
whatever the training precision, so inference and export need no flag.
"""

import keras

from keras_gpt1.errors import GPT1InputError

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


def check_precision(precision):
    if precision not in PRECISIONS:
        raise GPT1InputError(
            f"unknown precision '{precision}'; choose one of {', '.join(PRECISIONS)}"
        )
    return precision


def with_loss_scaling(optimizer, precision):
    """Wrap `optimizer` for dynamic loss scaling when training in float16."""
    if precision == "mixed_float16":
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def rebuild_with_weights(model, build):
    """`build()` (a model of `model`'s architecture, e.g. in another dtype
    policy or outside a strategy scope) holding `model`'s weights."""
    copy = build()
    copy.set_weights(model.get_weights())
    return copy
