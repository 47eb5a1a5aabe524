"""Why masked scores are set with `where` and not by adding a bias
(`MASKED_SCORE` in keras_gpt1/layers/causal_self_attention.py).

    cd benchmarks && python record.py masked_softmax.py

One training step (forward and backward) of a causal softmax over
attention scores, batch 8 x 4 heads x 128 x 128 float32, on TensorFlow
without XLA (the path of several replicas on CPU devices) and with XLA:
masked positions set to -1e9 with `where`, against -1e9 added as a bias
(`scores + (1 - mask) * -1e9`). Best of 20 after warm-up, alternating.
"""

import argparse
import json
import time

import numpy as np
import tensorflow as tf

MASKED_SCORE = -1e9
SHAPE = (8, 4, 128, 128)


def steps():
    mask = tf.constant(np.tril(np.ones(SHAPE[-2:], "float32")))
    scores = tf.Variable(tf.random.normal(SHAPE, seed=0))

    def with_where():
        with tf.GradientTape() as tape:
            masked = tf.where(mask > 0, scores, MASKED_SCORE)
            loss = tf.reduce_sum(tf.nn.softmax(masked, axis=-1) ** 2)
        return tape.gradient(loss, scores)

    def with_bias():
        with tf.GradientTape() as tape:
            masked = scores + (1.0 - mask) * MASKED_SCORE
            loss = tf.reduce_sum(tf.nn.softmax(masked, axis=-1) ** 2)
        return tape.gradient(loss, scores)

    return {"where": with_where, "bias": with_bias}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    result = {"shape": list(SHAPE)}
    for xla in (False, True):
        functions = {name: tf.function(fn, jit_compile=xla) for name, fn in steps().items()}
        best = {name: float("inf") for name in functions}
        for fn in functions.values():
            fn().numpy()
        for _ in range(args.repeats):
            for name, fn in functions.items():
                start = time.perf_counter()
                fn().numpy()
                best[name] = min(best[name], time.perf_counter() - start)
        key = "xla" if xla else "no_xla"
        result[key] = {f"{name}_ms": 1e3 * t for name, t in best.items()}
        result[key]["bias_over_where"] = best["bias"] / best["where"]
    print(json.dumps(result, indent=None if args.json else 1))


if __name__ == "__main__":
    main()
