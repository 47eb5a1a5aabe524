"""How the cost of keras-gpt1 grows with sequence length (64 to 512).

One model (4 layers, 256 wide, 4 heads, MLP 1024, vocab 8000, context 512,
dropout 0.1, random weights and token ids), for each sequence length T:

- training: Adam, XLA on, batch 1024 / T so that every step sees 1,024
  tokens; tokens/s and ms/step over all rounds, and MFU (6N + 12·L·d·T
  per token against the better of two float32 matmul peaks measured here,
  before and after the rounds);
- generation: batch 1, a prompt of T/2 tokens continued by T/2 greedy
  tokens with `GPT1CausalLM.generate` (XLA, KV cache of length T); ms per
  generated token with the prefill included, and without it (the prefill
  of T positions, timed on its own with `call_with_cache`, subtracted);
  best of all rounds.

Sequence lengths alternate within each round so that load on the machine
hits them alike.

    cd benchmarks && python seq_len_scaling.py [--seq-lens 64 128 256 512]
        [--rounds 3] [--steps 5] [--quick] [--json]
"""

import argparse
import json
import time

import keras
import numpy as np
import tensorflow as tf
from benchmarks_timing import matmul_peak_gflops
from benchmarks_timing import training_flops_per_token

import keras_gpt1

DIMS = dict(num_layers=4, hidden_dim=256, num_heads=4, intermediate_dim=1024,
            vocabulary_size=8000, max_sequence_length=512)
DROPOUT = 0.1
TOKENS_PER_STEP = 1024
SEQ_LENS = (64, 128, 256, 512)


def build_model():
    keras.utils.set_random_seed(0)
    model = keras_gpt1.GPT1CausalLM(keras_gpt1.GPT1Backbone(**DIMS, dropout=DROPOUT))
    model.compile(optimizer=keras.optimizers.Adam(1e-4),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[], jit_compile=True)
    return model


def random_ids(shape, seed=0):
    return np.random.default_rng(seed).integers(
        0, DIMS["vocabulary_size"], shape).astype("int32")


class SeqLenCase:
    """The training batch, the prompt and the timers of one sequence length."""

    def __init__(self, model, seq_len):
        self.model = model
        self.seq_len = seq_len
        self.batch_size = TOKENS_PER_STEP // seq_len
        ids = random_ids((self.batch_size, seq_len + 1))
        self.x, self.y = ids[:, :-1], ids[:, 1:]
        self.new_tokens = seq_len // 2
        self.prompt = random_ids(seq_len - self.new_tokens, seed=1)
        self.prefill_ids = random_ids((1, seq_len), seed=2)
        # Hidden states only: XLA drops the unused logits, as in `generate`.
        self.prefill_fn = tf.function(
            lambda ids: model.call_with_cache(ids, model.initial_cache(1, seq_len), 0)[1],
            jit_compile=True)

    def train(self, steps):
        start = time.perf_counter()
        for _ in range(steps):
            self.model.train_on_batch(self.x, self.y)
        return time.perf_counter() - start

    def generate(self):
        start = time.perf_counter()
        self.model.generate([self.prompt], max_new_tokens=self.new_tokens,
                            stop_at_end=False)
        return time.perf_counter() - start

    def prefill(self):
        start = time.perf_counter()
        self.prefill_fn(self.prefill_ids).numpy()
        return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seq-lens", type=int, nargs="+", default=SEQ_LENS)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=5, help="training steps per round")
    parser.add_argument("--quick", action="store_true", help="1 round of 2 steps")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.steps = 1, 2
    for seq_len in args.seq_lens:
        if TOKENS_PER_STEP % seq_len or seq_len > DIMS["max_sequence_length"] or seq_len < 2:
            parser.error(f"sequence length {seq_len} must divide {TOKENS_PER_STEP} "
                         f"and fit the context of {DIMS['max_sequence_length']}")

    peak = matmul_peak_gflops()
    model = build_model()
    cases = [SeqLenCase(model, seq_len) for seq_len in args.seq_lens]
    for case in cases:  # XLA compilation, excluded from timing
        case.train(1)
        case.generate()
        case.prefill()
    train_s = {case.seq_len: 0.0 for case in cases}
    generate_s = {case.seq_len: float("inf") for case in cases}
    prefill_s = dict(generate_s)
    for _ in range(args.rounds):
        for case in cases:
            train_s[case.seq_len] += case.train(args.steps)
            generate_s[case.seq_len] = min(generate_s[case.seq_len], case.generate())
            prefill_s[case.seq_len] = min(prefill_s[case.seq_len], case.prefill())

    peak = max(peak, matmul_peak_gflops())  # best of before and after: load varies
    params = model.count_params()
    rows = []
    for case in cases:
        t = case.seq_len
        steps = args.rounds * args.steps
        tps = steps * TOKENS_PER_STEP / train_s[t]
        flops = training_flops_per_token(params, DIMS["num_layers"], DIMS["hidden_dim"], t)
        rows.append({
            "seq_len": t, "batch_size": case.batch_size,
            "train_tokens_per_second": tps, "train_ms_per_step": 1000 * train_s[t] / steps,
            "train_mfu": tps * flops / 1e9 / peak,
            "prompt_tokens": len(case.prompt), "new_tokens": case.new_tokens,
            "generate_ms_per_token": 1000 * generate_s[t] / case.new_tokens,
            "prefill_ms": 1000 * prefill_s[t],
            "decode_ms_per_token": 1000 * (generate_s[t] - prefill_s[t]) / case.new_tokens,
        })

    print(f"dims {DIMS}, dropout {DROPOUT}, {params:,d} parameters, XLA on; "
          f"matmul peak {peak:.0f} GFLOP/s (float32, 2048^2)")
    print(f"training: Adam, {TOKENS_PER_STEP} tokens/step, {args.rounds} x {args.steps} steps")
    print(f"generation: batch 1, greedy, KV cache, best of {args.rounds}; "
          "decode = (generate - prefill) / new tokens")
    print(f"{'seq':>5s} {'batch':>5s} {'tokens/s':>9s} {'ms/step':>8s} {'MFU':>6s} | "
          f"{'prompt+new':>10s} {'gen ms/tok':>10s} {'prefill ms':>10s} {'decode ms/tok':>13s}")
    for r in rows:
        print(f"{r['seq_len']:5d} {r['batch_size']:5d} {r['train_tokens_per_second']:9,.0f} "
              f"{r['train_ms_per_step']:8.1f} {r['train_mfu']:6.1%} | "
              f"{r['prompt_tokens']:>4d} + {r['new_tokens']:<3d} "
              f"{r['generate_ms_per_token']:10.2f} {r['prefill_ms']:10.1f} "
              f"{r['decode_ms_per_token']:13.2f}")
    if args.json:
        print(json.dumps({"dims": DIMS, "dropout": DROPOUT, "parameters": params,
                          "tokens_per_step": TOKENS_PER_STEP, "matmul_peak_gflops": peak,
                          "rounds": args.rounds, "steps": args.steps, "rows": rows}))


if __name__ == "__main__":
    main()
