"""What TensorFlow training pays for taking the masked form of the fused
attention (`CausalSelfAttention._fused_attention`) on batches without
padding, where it could take the causal-only one.

    cd benchmarks && python record.py tensorflow_attention_forms.py

A training step of the `tiny` preset (4 layers, 256 wide, vocabulary
8,000), batch 16 x 128, attention dropout 0 (`pretrain`'s default, so
attention is one `keras.ops.dot_product_attention`), every other dropout
0.1, `GPT1AdamW`; on both `--precision auto` paths of a CPU (mixed
bfloat16 without XLA, float32 with XLA). `masked`: what training runs
(the padding mask combined with the causal one); `causal_only`: the same
model with `is_causal=True` and no mask, which TensorFlow took before
through a `cond` that XLA could not compile when the batch size varies.
Both models hold the same weights; best round of `--steps` steps,
alternating, after warm-up.
"""

import argparse
import json
import time

import keras
import numpy as np

from keras_gpt1 import GPT1Backbone
from keras_gpt1 import GPT1CausalLM
from keras_gpt1.layers.causal_self_attention import CausalSelfAttention
from keras_gpt1.models.gpt1_presets import GPT1_PRESETS
from keras_gpt1.optimizers import make_optimizer

BATCH, SEQ = 16, 128
PATHS = {"mixed_bfloat16, no XLA": ("mixed_bfloat16", False), "float32, XLA": ("float32", True)}


def causal_only(self, query, key, value, padding_mask, training):
    """The fused attention as if no batch had padding."""
    return FUSED(self, query, key, value, None, training)


FUSED = CausalSelfAttention._fused_attention


def build(policy, jit_compile, form):
    CausalSelfAttention._fused_attention = FUSED if form == "masked" else causal_only
    try:
        keras.utils.set_random_seed(0)
        config = GPT1_PRESETS["tiny"]["config"]
        backbone = GPT1Backbone(**{**config, "max_sequence_length": SEQ, "dropout": 0.1},
                                attention_dropout=0.0, dtype=policy)
        lm = GPT1CausalLM(backbone)
        lm.compile(optimizer=make_optimizer(1e-4), jit_compile=jit_compile,
                   loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                   weighted_metrics=[])
        ids = np.random.default_rng(0).integers(0, config["vocabulary_size"], (BATCH, SEQ + 1))
        x = {"token_ids": ids[:, :-1].astype("int32"),
             "padding_mask": np.ones((BATCH, SEQ), "int32")}
        y = ids[:, 1:].astype("int32")
        lm.train_on_batch(x, y)  # traced here, with this form
        return lambda: lm.train_on_batch(x, y)
    finally:
        CausalSelfAttention._fused_attention = FUSED


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    result = {"batch": BATCH, "seq_len": SEQ, "preset": "tiny"}
    for name, (policy, jit_compile) in PATHS.items():
        steps = {form: build(policy, jit_compile, form) for form in ("masked", "causal_only")}
        best = dict.fromkeys(steps, float("inf"))
        for _ in range(args.rounds):
            for form, step in steps.items():
                start = time.perf_counter()
                for _ in range(args.steps):
                    step()
                best[form] = min(best[form], (time.perf_counter() - start) / args.steps)
        result[name] = {f"{form}_ms_per_step": 1e3 * t for form, t in best.items()}
        result[name]["masked_over_causal_only"] = best["masked"] / best["causal_only"]
    print(json.dumps(result, indent=None if args.json else 1))


if __name__ == "__main__":
    main()
