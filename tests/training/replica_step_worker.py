"""One plain-SGD step of a small GPT-1 on N logical CPU replicas, in its own
process (logical devices must be set before TensorFlow starts). Writes the
gradient the step applied to each weight, `(w_before - w_after) / lr`, to
OUT.npz. With `--wrong-reduction` the replicas' losses are summed instead of
averaged (what a broken cross-replica reduction does): the test shows its
check catches that.

    python replica_step_worker.py OUT.npz --replicas N [--wrong-reduction]
"""

import argparse

LEARNING_RATE = 0.1
GLOBAL_BATCH = 8


def main():
    p = argparse.ArgumentParser()
    p.add_argument("output")
    p.add_argument("--replicas", type=int, default=1)
    p.add_argument("--wrong-reduction", action="store_true")
    args = p.parse_args()

    import tensorflow as tf

    (cpu,) = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * args.replicas)

    import keras
    import numpy as np

    from keras_gpt1 import GPT1Backbone
    from keras_gpt1 import GPT1CausalLM

    if args.wrong_reduction:
        from keras.src.losses import loss as loss_module

        loss_module.scale_loss_for_distribution = lambda value: value

    strategy = (tf.distribute.MirroredStrategy(
        [d.name for d in tf.config.list_logical_devices("CPU")])
        if args.replicas > 1 else tf.distribute.get_strategy())
    with strategy.scope():
        keras.utils.set_random_seed(0)
        lm = GPT1CausalLM(GPT1Backbone(
            vocabulary_size=64, num_layers=2, num_heads=2, hidden_dim=16,
            intermediate_dim=64, max_sequence_length=12, dropout=0.0))
        lm.compile(optimizer=keras.optimizers.SGD(LEARNING_RATE), jit_compile=False)
    tokens = np.random.default_rng(1).integers(0, 64, (GLOBAL_BATCH, 12)).astype("int32")
    before = [np.array(w) for w in lm.get_weights()]
    keras.Model.fit(lm, tokens[:, :-1], tokens[:, 1:], batch_size=GLOBAL_BATCH,
                    epochs=1, shuffle=False, verbose=0)
    applied = [(b - np.array(a)) / LEARNING_RATE for b, a in zip(before, lm.get_weights())]
    np.savez(args.output, *applied)


if __name__ == "__main__":
    main()
