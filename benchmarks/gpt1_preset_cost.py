"""What the full `gpt1` preset costs here, and estimates of the paper's run.

The paper's model (12 layers, 768 wide, 12 heads, MLP 3072, vocab 40,478,
context 512, 116.5M parameters, random weights, random token ids):

- forward time (XLA-compiled call, no dropout) and train-step time (Adam,
  dropout 0.1, XLA on) at seq 512, batch 1 and 4;
- peak memory: the growth of the process's peak RSS (`ru_maxrss`) since just
  before the model was built. It is a high-water mark, so each row shows
  the peak up to and including that measurement;
- MFU against a float32 matmul peak measured here: training 6N + 12·L·d·T
  FLOPs per token, forward a third of that.

Then ESTIMATES of the paper's pre-training (100 epochs of 64 x 512-token
minibatches over BooksCorpus): total FLOPs from an assumed token count
(printed), the throughput that the cited "~1 month on 8 P600 GPUs" implies,
and the wall time on this machine, on 8x A100 (312 TFLOP/s bf16 dense peak
each) and on a TPU v4-8 (4 chips x 275 TFLOP/s) at the MFU measured here
and at 40%.

    cd benchmarks && python gpt1_preset_cost.py [--batch-sizes 1 4]
        [--seq-len 512] [--steps 3] [--tokens-per-word 1.3] [--quick] [--json]
"""

import argparse
import json
import math
import resource
import time

import keras
import numpy as np
import tensorflow as tf
from benchmarks_timing import matmul_peak_gflops
from benchmarks_timing import training_flops_per_token

import keras_gpt1
from keras_gpt1.models.gpt1_presets import GPT1_PRESETS

PRESET = "gpt1"
SECONDS_PER_DAY = 86400
PFLOP_DAY = 1e15 * SECONDS_PER_DAY
# The paper's pre-training; `tokens_per_word` is our assumption (the paper
# gives no token count), typical of a 40k-merge BPE on English prose.
PAPER = dict(words=800e6, tokens_per_word=1.3, epochs=100, batch_size=64, seq_len=512,
             cited_days=30, cited_gpus=8)
# fp32 peaks at boost clock (vendor specs), to read the cited figure against.
CITED_GPU_FP32_TFLOPS = {"Quadro P600": 1.2, "Quadro P6000": 12.6}
ACCELERATORS = {  # name -> peak FLOP/s of the whole machine
    "8x A100 (312 TFLOP/s bf16 each)": 8 * 312e12,
    "TPU v4-8 (4 chips x 275 TFLOP/s)": 4 * 275e12,
}
REFERENCE_MFU = 0.40


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def time_calls(fn, steps):
    """Seconds per call, best of `steps` (after one untimed, compiling call)."""
    fn()
    best = float("inf")
    for _ in range(steps):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def measure(batch_sizes, seq_len, steps):
    """-> (parameters, rows): forward and train rows per batch size."""
    start_rss = peak_rss_mib()
    keras.utils.set_random_seed(0)
    model = keras_gpt1.GPT1CausalLM(keras_gpt1.GPT1Backbone.from_preset(PRESET))
    model.compile(optimizer=keras.optimizers.Adam(2.5e-4),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[], jit_compile=True)
    forward = tf.function(lambda ids: model(ids, training=False), jit_compile=True)
    vocabulary_size = model.backbone.vocabulary_size
    rows = [{"phase": "build", "batch_size": None, "seconds": None,
             "peak_rss_growth_mib": peak_rss_mib() - start_rss}]
    for phase in ("forward", "train"):
        for batch_size in batch_sizes:
            ids = np.random.default_rng(batch_size).integers(
                0, vocabulary_size, (batch_size, seq_len + 1)).astype("int32")
            x, y = ids[:, :-1], ids[:, 1:]
            step = ((lambda: forward(x).numpy()) if phase == "forward"
                    else (lambda: model.train_on_batch(x, y)))
            seconds = time_calls(step, steps)
            rows.append({"phase": phase, "batch_size": batch_size, "seconds": seconds,
                         "tokens_per_second": batch_size * seq_len / seconds,
                         "peak_rss_growth_mib": peak_rss_mib() - start_rss})
    return model.count_params(), rows


def human_duration(seconds):
    for unit, size in (("years", 365 * SECONDS_PER_DAY), ("days", SECONDS_PER_DAY),
                       ("hours", 3600)):
        if seconds >= size:
            return f"{seconds / size:,.1f} {unit}"
    return f"{seconds:,.0f} s"


def paper_estimate(parameters, dims, train_mfu, train_tokens_per_second, tokens_per_word):
    """Total FLOPs of the paper's pre-training and wall-time estimates."""
    tokens_per_step = PAPER["batch_size"] * PAPER["seq_len"]
    steps_per_epoch = math.ceil(PAPER["words"] * tokens_per_word / tokens_per_step)
    total_steps = PAPER["epochs"] * steps_per_epoch
    total_tokens = total_steps * tokens_per_step
    flops_per_token = training_flops_per_token(
        parameters, dims["num_layers"], dims["hidden_dim"], PAPER["seq_len"])
    total_flops = total_tokens * flops_per_token
    cited_flops_per_gpu = total_flops / (PAPER["cited_days"] * SECONDS_PER_DAY) / PAPER["cited_gpus"]
    wall_times = [{"hardware": "this machine (measured throughput)", "peak_flops": None,
                   "mfu": train_mfu, "seconds": total_tokens / train_tokens_per_second}]
    for name, peak in ACCELERATORS.items():
        for mfu in (train_mfu, REFERENCE_MFU):
            wall_times.append({"hardware": name, "peak_flops": peak, "mfu": mfu,
                               "seconds": total_flops / (peak * mfu)})
    return {"assumptions": {**PAPER, "tokens_per_word": tokens_per_word},
            "steps_per_epoch": steps_per_epoch, "total_steps": total_steps,
            "total_tokens": total_tokens, "flops_per_token": flops_per_token,
            "total_flops": total_flops, "pflop_days": total_flops / PFLOP_DAY,
            "cited_implied_tflops_per_gpu": cited_flops_per_gpu / 1e12,
            "wall_time_estimates": wall_times}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=(1, 4))
    parser.add_argument("--seq-len", type=int, default=512)
    parser.add_argument("--steps", type=int, default=3, help="timed calls (best counts)")
    parser.add_argument("--tokens-per-word", type=float, default=PAPER["tokens_per_word"])
    parser.add_argument("--quick", action="store_true", help="batch 1, seq 128, 1 step")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.batch_sizes, args.seq_len, args.steps = (1,), 128, 1

    dims = GPT1_PRESETS[PRESET]["config"]
    peak = matmul_peak_gflops()
    parameters, rows = measure(args.batch_sizes, args.seq_len, args.steps)
    peak = max(peak, matmul_peak_gflops())  # best of before and after: load varies
    train_flops = training_flops_per_token(
        parameters, dims["num_layers"], dims["hidden_dim"], args.seq_len)
    for r in rows[1:]:
        flops = train_flops if r["phase"] == "train" else train_flops / 3
        r["mfu"] = r["tokens_per_second"] * flops / 1e9 / peak
    last_train = rows[-1]
    estimate = paper_estimate(parameters, dims, last_train["mfu"],
                              last_train["tokens_per_second"], args.tokens_per_word)

    print(f"preset {PRESET}: {parameters:,d} parameters, seq {args.seq_len}, XLA on; "
          f"matmul peak {peak:.0f} GFLOP/s (float32, 2048^2)")
    print(f"{'phase':8s} {'batch':>5s} {'s/step':>8s} {'tokens/s':>9s} {'MFU':>6s} "
          f"{'peak RSS growth':>16s}")
    for r in rows:
        timing = ("" if r["seconds"] is None else
                  f"{r['seconds']:8.2f} {r['tokens_per_second']:9,.0f} {r['mfu']:6.1%}")
        print(f"{r['phase']:8s} {r['batch_size'] or '':>5} {timing:25s} "
              f"{r['peak_rss_growth_mib']:12,.0f} MiB")

    a = estimate["assumptions"]
    print("\nESTIMATES of the paper's pre-training (not measurements). Assumptions:")
    print(f"- BooksCorpus ~{a['words'] / 1e6:,.0f}M words x {a['tokens_per_word']} BPE "
          f"tokens/word (assumed) = {a['words'] * a['tokens_per_word'] / 1e9:.2f}B tokens/epoch")
    print(f"- minibatches of {a['batch_size']} x {a['seq_len']} tokens: "
          f"{estimate['steps_per_epoch']:,d} steps/epoch x {a['epochs']} epochs = "
          f"{estimate['total_steps']:,d} steps = {estimate['total_tokens']:.3g} tokens")
    print(f"- {estimate['flops_per_token'] / 1e6:,.0f} MFLOP/token (6N + 12·L·d·T at T = "
          f"{a['seq_len']}) -> {estimate['total_flops']:.3g} FLOPs = "
          f"{estimate['pflop_days']:.2f} PFLOP/s-days")
    print(f"- cited ~{a['cited_days']} days on {a['cited_gpus']} GPUs implies "
          f"{estimate['cited_implied_tflops_per_gpu']:.1f} TFLOP/s sustained per GPU "
          "(fp32 peaks: " + ", ".join(f"{gpu} ~{t} TFLOP/s" for gpu, t in
                                      CITED_GPU_FP32_TFLOPS.items()) + ")")
    print("- the MFU measured here (float32, CPU, at this run's batch and seq) is "
          "assumed to carry over to the accelerators' bf16 peak; 40% is a typical "
          "well-tuned figure")
    print(f"{'hardware':36s} {'peak PFLOP/s':>12s} {'MFU':>6s} {'wall time (estimate)':>21s}")
    for w in estimate["wall_time_estimates"]:
        peak_text = "-" if w["peak_flops"] is None else f"{w['peak_flops'] / 1e15:.3f}"
        print(f"{w['hardware']:36s} {peak_text:>12s} {w['mfu']:6.1%} "
              f"{human_duration(w['seconds']):>21s}")
    if args.json:
        print(json.dumps({"preset": PRESET, "parameters": parameters,
                          "seq_len": args.seq_len, "steps": args.steps,
                          "matmul_peak_gflops": peak, "rows": rows,
                          "paper_estimate": estimate}))


if __name__ == "__main__":
    main()
