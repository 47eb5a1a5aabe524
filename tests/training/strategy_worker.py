"""One pre-training run under a strategy, in its own process (logical CPU
devices and collectives must be set up before TensorFlow starts).

    python strategy_worker.py CORPUS OUTPUT WEIGHTS.npz --strategy S
        [--cpu-devices N] [--batch-size B] [--steps N] [--dropout P]
        [--checkpoint-every N] [--crash-at STEP] [--precision P] [--no-xla]

`--crash-at STEP` exits with status 3 after STEP steps (a simulated kill).

Writes the final weights to WEIGHTS.npz (a worker of a TF_CONFIG cluster:
WEIGHTS.<index>.npz, for comparison) and the summary as the last stdout
line.
"""

import argparse
import json
import os
import sys


def main():
    p = argparse.ArgumentParser()
    p.add_argument("corpus")
    p.add_argument("output")
    p.add_argument("weights")
    p.add_argument("--strategy", default="default")
    p.add_argument("--cpu-devices", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--steps", type=int, default=1)
    p.add_argument("--checkpoint-every", type=int, default=None)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--precision", default="float32")
    p.add_argument("--clipnorm", type=float, default=1.0)
    p.add_argument("--no-xla", dest="xla", action="store_false")
    p.add_argument("--crash-at", type=int, default=None,
                   help="raise after this many steps (a simulated kill)")
    args = p.parse_args()

    import tensorflow as tf

    if args.cpu_devices > 1:
        (cpu,) = tf.config.list_physical_devices("CPU")
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * args.cpu_devices
        )

    import keras
    import numpy as np

    from keras_gpt1.errors import GPT1InputError
    from keras_gpt1.training.pretrain import PretrainConfig
    from keras_gpt1.training.pretrain import pretrain

    weights_path = args.weights
    if os.environ.get("TF_CONFIG"):
        index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
        weights_path = weights_path.replace(".npz", f".{index}.npz")

    class SaveWeights(keras.callbacks.Callback):
        def on_train_end(self, logs=None):
            np.savez(weights_path, *self.model.get_weights())

    class Crash(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if int(self.model.optimizer.iterations.numpy()) >= args.crash_at:
                sys.exit(3)

    callbacks = [SaveWeights()] + ([Crash()] if args.crash_at else [])
    config = PretrainConfig(
        corpus=[args.corpus], output=args.output, preset="tiny", seq_len=16,
        batch_size=args.batch_size, vocab_size=300, max_steps=args.steps,
        checkpoint_every=args.checkpoint_every or args.steps, dropout=args.dropout,
        learning_rate=1e-3, clipnorm=args.clipnorm,
        strategy=args.strategy, jit_compile=args.xla, precision=args.precision, verbose=0,
    )
    try:
        summary = pretrain(config, callbacks=callbacks)
    except GPT1InputError as e:
        print(f"keras-gpt1: error: {e}", file=sys.stderr)
        sys.exit(2)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
