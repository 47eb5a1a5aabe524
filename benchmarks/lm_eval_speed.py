"""lm-evaluation-harness requests/s: keras-gpt1's model ("keras-gpt1")
against the harness's own Hugging Face model ("hf"), same checkpoint, same
CPU, one process.

The checkpoint: GPT-1's architecture (12 layers, 768 wide, 512-token
context, 116.5M parameters; random weights, which cost the same time as
trained ones) with GPT-1's real tokenizer from ../shared/data/gpt1,
written as a keras-gpt1 model and exported with `export_to_transformers`
for "hf". Two workloads shaped like the standard zero-shot tasks, from
../shared/data/tinyshakespeare:

- multiple choice (HellaSwag, PIQA, ARC): --docs contexts of 40-80 words,
  each with 4 continuations of 2-12 words: `loglikelihood`;
- rolling (WikiText): --texts passages of about 1,300 tokens:
  `loglikelihood_rolling` in 512-token windows.

Each model takes its best path here: "hf" with `device=cpu`, float32,
PyTorch on every core; "keras-gpt1" on TensorFlow (the project's default
backend). Both at --batch-size, each in a process of its own (PyTorch
beside TensorFlow in one process runs about 1.5x slower here). --rounds
rounds alternate the two: each round starts one process per model, which
makes an untimed call on a few requests (tracing, caches), then times each
workload once; the best round of each counts. The two models'
log-likelihoods are compared too.

    cd benchmarks && python lm_eval_speed.py [--docs 24] [--texts 4] [--rounds 2] [--json]

Needs the `eval` and `reference` extras and ../shared (GPT-1's vocabulary,
tinyshakespeare).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "..", "..", "shared", "data")
GPT1_VOCAB = os.path.join(SHARED, "gpt1")
SHAKESPEARE = os.path.join(SHARED, "tinyshakespeare", "input.txt")
CHOICES = 4
ROLLING_WORDS = 1000  # about 1,300 GPT-1 tokens: 3 windows of 512


def workloads(docs, texts, seed=0):
    """`(multiple-choice (context, continuation) pairs, rolling texts)`."""
    with open(SHAKESPEARE, encoding="utf-8") as f:
        words = f.read().split()
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(docs):
        start = int(rng.integers(0, len(words) - 200))
        n = int(rng.integers(40, 81))
        context = " ".join(words[start:start + n])
        for _ in range(CHOICES):
            at = int(rng.integers(0, len(words) - 20))
            pairs.append((context, " " + " ".join(words[at:at + int(rng.integers(2, 13))])))
    passages = []
    for _ in range(texts):
        start = int(rng.integers(0, len(words) - ROLLING_WORDS))
        passages.append(" ".join(words[start:start + ROLLING_WORDS]))
    return pairs, passages


def build_checkpoint(directory):
    """`(model directory, Hugging Face directory)` of a random GPT-1."""
    import keras

    import keras_gpt1
    from keras_gpt1 import artifacts
    from keras_gpt1.tokenizers.openai_gpt_tokenizer import OpenAIGPTTokenizer

    keras.utils.set_random_seed(0)
    tokenizer = OpenAIGPTTokenizer.from_directory(GPT1_VOCAB)
    backbone = keras_gpt1.GPT1Backbone.from_preset("gpt1", dropout=0.0)
    lm = keras_gpt1.GPT1CausalLM(backbone, tokenizer=tokenizer)
    model_dir = os.path.join(directory, "model")
    os.makedirs(model_dir)
    artifacts.save_model_file(lm, os.path.join(model_dir, artifacts.MODEL_FILE))
    tokenizer.save_to_directory(model_dir)
    hf_dir = os.path.join(directory, "hf")
    lm.export_to_transformers(hf_dir)
    return model_dir, hf_dir, int(backbone.count_params())


def instances(kind, argument_tuples):
    from lm_eval.api.instance import Instance

    return [Instance(kind, {}, args, i) for i, args in enumerate(argument_tuples)]


def time_model(name, path, args):
    """In this process: `{workload: (seconds, log-likelihoods)}` of model
    `name` ("hf" or "keras-gpt1") on `path`, after an untimed warm-up."""
    if name == "hf":
        import torch
        from lm_eval.models.huggingface import HFLM

        torch.set_num_threads(os.cpu_count())
        model = HFLM(pretrained=path, device="cpu", batch_size=args.batch_size,
                     prefix_token_id=0)
    else:
        from keras_gpt1.evaluation.lm_eval_model import KerasGPT1LM

        model = KerasGPT1LM(model=path, batch_size=args.batch_size)
    pairs, passages = workloads(args.docs, args.texts)
    requests = {
        "multiple_choice": ("loglikelihood", instances("loglikelihood", pairs)),
        "rolling": ("loglikelihood_rolling",
                    instances("loglikelihood_rolling", [(p,) for p in passages])),
    }
    model.loglikelihood(instances("loglikelihood", pairs[:2 * args.batch_size]),
                        disable_tqdm=True)
    model.loglikelihood_rolling(instances("loglikelihood_rolling", [(passages[0],)]),
                                disable_tqdm=True)
    results = {}
    for workload, (method, reqs) in requests.items():
        start = time.perf_counter()
        out = getattr(model, method)(reqs, disable_tqdm=True)
        seconds = time.perf_counter() - start
        results[workload] = (seconds, [o[0] if isinstance(o, tuple) else o for o in out])
    return results


def run_worker(name, path, args):
    """`time_model` in a fresh process."""
    command = [sys.executable, os.path.abspath(__file__), "--worker", name,
               "--path", path, "--docs", str(args.docs), "--texts", str(args.texts),
               "--batch-size", str(args.batch_size)]
    process = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(process.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=24,
                        help="multiple-choice contexts (x4 requests)")
    parser.add_argument("--texts", type=int, default=4, help="rolling passages")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--worker", choices=("hf", "keras-gpt1"), help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(time_model(args.worker, args.path, args)))
        return

    pairs, passages = workloads(args.docs, args.texts)
    from keras_gpt1.evaluation.lm_eval_model import KerasGPT1LM

    with tempfile.TemporaryDirectory() as directory:
        model_dir, hf_dir, parameters = build_checkpoint(directory)
        counter = KerasGPT1LM(model=model_dir)
        tokens = {"multiple_choice": sum(len(counter.tok_encode(c + x)) for c, x in pairs),
                  "rolling": sum(len(counter.tok_encode(p)) for p in passages)}
        requests = {"multiple_choice": len(pairs), "rolling": len(passages)}
        paths = {"hf": hf_dir, "keras-gpt1": model_dir}
        best = {(m, w): float("inf") for m in paths for w in requests}
        outputs, every_round = {}, []
        for _ in range(args.rounds):
            for name, path in paths.items():
                result = run_worker(name, path, args)
                for workload, (seconds, values) in result.items():
                    best[name, workload] = min(best[name, workload], seconds)
                    outputs[name, workload] = values
                every_round.append({"model": name, **{w: r[0] for w, r in result.items()}})

    rows, ratios, agreement = [], {}, {}
    for workload, count in requests.items():
        for name in paths:
            seconds = best[name, workload]
            rows.append({"model": name, "workload": workload, "requests": count,
                         "tokens": tokens[workload], "seconds": seconds,
                         "requests_per_second": count / seconds,
                         "tokens_per_second": tokens[workload] / seconds})
        ratios[workload] = best["hf", workload] / best["keras-gpt1", workload]
        agreement[workload] = float(np.max(np.abs(np.subtract(
            outputs["keras-gpt1", workload], outputs["hf", workload]))))

    print(f"GPT-1 architecture ({parameters:,} parameters, random weights, GPT-1's "
          f"tokenizer), batch {args.batch_size}, best of {args.rounds} alternating rounds")
    print(f"{'workload':16s} {'model':11s} {'requests':>8s} {'tokens':>7s} "
          f"{'seconds':>8s} {'requests/s':>10s} {'tokens/s':>9s}")
    for r in rows:
        print(f"{r['workload']:16s} {r['model']:11s} {r['requests']:8d} {r['tokens']:7d} "
              f"{r['seconds']:8.2f} {r['requests_per_second']:10.2f} "
              f"{r['tokens_per_second']:9.0f}")
    for workload in requests:
        print(f"{workload}: keras-gpt1 / hf requests/s {ratios[workload]:.2f}x; "
              f"max |log-likelihood difference| {agreement[workload]:.1e}")
    if args.json:
        print(json.dumps({"parameters": parameters, "batch_size": args.batch_size,
                          "rounds": args.rounds, "docs": args.docs, "texts": args.texts,
                          "rows": rows, "every_round_seconds": every_round,
                          "speedup_keras_gpt1_over_hf": ratios,
                          "max_abs_log_likelihood_difference": agreement}))


if __name__ == "__main__":
    main()
