"""Generation tokens/s: keras-gpt1 with and without the KV cache, and
keras-hub's GPT2CausalLM, at equal dims.

4 layers, 256 wide, 4 heads, MLP 1024, vocab 8000, context 128, random
weights; a prompt of 32 random tokens continued by 64 greedy tokens, at
batch 1 and 8, everything XLA-compiled:

- keras-gpt1 `GPT1CausalLM.generate` (KV cache);
- keras-gpt1 without the cache: a compiled `keras.ops.fori_loop` that reruns
  the backbone over the whole (batch, 96) token buffer for every new token
  and projects only the position it reads onto the vocabulary;
- keras-hub `GPT2CausalLM.generate` (`preprocessor=None`, greedy sampler,
  `token_ids` / `padding_mask` input, KV cache).

The first (compiling) call of each is excluded; then the variants alternate
for `--rounds` rounds and the best time of each counts. Also checks that
decoding with and without the cache picks the same tokens.

    cd benchmarks && python generation_speed.py [--rounds 5] [--quick] [--json]
"""

import argparse
import json
import time

import keras
import numpy as np
import tensorflow as tf
from keras import ops

import keras_gpt1

DIMS = dict(num_layers=4, hidden_dim=256, num_heads=4, intermediate_dim=1024,
            vocabulary_size=8000, max_sequence_length=128)
DROPOUT = 0.1  # inactive when generating
PROMPT_TOKENS = 32
NEW_TOKENS = 64
BATCH_SIZES = (1, 8)
CACHE = "keras-gpt1 generate (KV cache)"
NO_CACHE = "keras-gpt1 no cache (full recompute)"
KERAS_HUB = "keras-hub GPT2CausalLM.generate"


def build_ours():
    keras.utils.set_random_seed(0)
    return keras_gpt1.GPT1CausalLM(keras_gpt1.GPT1Backbone(**DIMS, dropout=DROPOUT))


def build_keras_hub():
    import keras_hub

    backbone = keras_hub.models.GPT2Backbone(**DIMS, dropout=DROPOUT)
    model = keras_hub.models.GPT2CausalLM(backbone=backbone, preprocessor=None)
    model.compile(sampler="greedy", jit_compile=True)  # "auto" is off on CPU
    return model


def compile_generate_without_cache(model):
    """`(batch, max_length)` ids, prompt in the first PROMPT_TOKENS columns ->
    the same ids with the rest filled greedily, one full backbone pass each."""
    backbone = model.backbone

    def next_token(index, token_ids):
        hidden = backbone(token_ids, training=False)  # (batch, max_length, hidden_dim)
        last = ops.take(hidden, index - 1, axis=1)  # causal: later columns unseen
        logits = backbone.token_embedding(last, reverse=True)  # (batch, vocab)
        new_ids = ops.cast(ops.argmax(logits, axis=-1), "int32")
        return ops.slice_update(token_ids, (0, index), new_ids[:, None])

    return tf.function(
        lambda token_ids: ops.fori_loop(
            PROMPT_TOKENS, ops.shape(token_ids)[1], next_token, token_ids),
        jit_compile=True)


def generators(batch_size, ours, no_cache_fn, keras_hub_model):
    """name -> zero-argument function returning `(batch, 96)` int ids."""
    prompts = np.random.default_rng(batch_size).integers(
        0, DIMS["vocabulary_size"], (batch_size, PROMPT_TOKENS)).astype("int32")
    padded = np.zeros((batch_size, PROMPT_TOKENS + NEW_TOKENS), "int32")
    padded[:, :PROMPT_TOKENS] = prompts
    prompt_mask = np.zeros_like(padded, bool)
    prompt_mask[:, :PROMPT_TOKENS] = True
    hub_inputs = {"token_ids": padded, "padding_mask": prompt_mask}
    return {
        CACHE: lambda: np.stack(ours.generate(list(prompts), max_new_tokens=NEW_TOKENS,
                                              stop_at_end=False)),
        NO_CACHE: lambda: no_cache_fn(padded).numpy(),
        KERAS_HUB: lambda: keras_hub_model.generate(
            hub_inputs, stop_token_ids=None)["token_ids"],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="1 round")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.rounds = 1

    ours = build_ours()
    no_cache_fn = compile_generate_without_cache(ours)
    keras_hub_model = build_keras_hub()
    cases = {(name, b): fn for b in BATCH_SIZES
             for name, fn in generators(b, ours, no_cache_fn, keras_hub_model).items()}
    agreement = {}
    for batch_size in BATCH_SIZES:  # the compiling calls, untimed
        with_cache = cases[CACHE, batch_size]()
        without_cache = cases[NO_CACHE, batch_size]()
        cases[KERAS_HUB, batch_size]()
        agreement[batch_size] = float(np.mean(
            with_cache[:, PROMPT_TOKENS:] == without_cache[:, PROMPT_TOKENS:]))
    best = {key: float("inf") for key in cases}
    for _ in range(args.rounds):
        for key, fn in cases.items():
            start = time.perf_counter()
            fn()
            best[key] = min(best[key], time.perf_counter() - start)

    rows = [{"implementation": name, "batch_size": b, "seconds": best[name, b],
             "tokens_per_second": b * NEW_TOKENS / best[name, b],
             "ms_per_token_step": 1000 * best[name, b] / NEW_TOKENS}
            for (name, b) in cases]
    speed = {(r["implementation"], r["batch_size"]): r["tokens_per_second"] for r in rows}
    ratios = {str(b): {"cache_vs_no_cache": speed[CACHE, b] / speed[NO_CACHE, b],
                       "ours_vs_keras_hub": speed[CACHE, b] / speed[KERAS_HUB, b]}
              for b in BATCH_SIZES}

    print(f"dims {DIMS}; prompt {PROMPT_TOKENS} + {NEW_TOKENS} new tokens, greedy, "
          f"XLA on; best of {args.rounds}")
    print(f"{'implementation':38s} {'batch':>5s} {'tokens/s':>9s} {'ms/step':>8s}")
    for r in rows:
        print(f"{r['implementation']:38s} {r['batch_size']:5d} "
              f"{r['tokens_per_second']:9,.0f} {r['ms_per_token_step']:8.2f}")
    for b in BATCH_SIZES:
        print(f"batch {b}: KV cache / no cache {ratios[str(b)]['cache_vs_no_cache']:.2f}x, "
              f"keras-gpt1 / keras-hub {ratios[str(b)]['ours_vs_keras_hub']:.2f}x, "
              f"same tokens with and without cache {agreement[b]:.0%}")
    if args.json:
        print(json.dumps({"dims": DIMS, "prompt_tokens": PROMPT_TOKENS,
                          "new_tokens": NEW_TOKENS, "rounds": args.rounds, "rows": rows,
                          "ratios": ratios,
                          "cache_agreement": {str(b): a for b, a in agreement.items()}}))


if __name__ == "__main__":
    main()
