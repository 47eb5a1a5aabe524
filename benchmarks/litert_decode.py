"""LiteRT KV-cache decoding vs Keras `generate`: speed, file size, accuracy.

For each model (the `tiny` and `gpt1` presets with random weights, and any
trained model directory given with `--model`), exports the `prefill` /
`decode` LiteRT file as float32, float16 and dynamic-range int8 and
measures, on this machine's CPU:

- file size;
- prefill time (one `prefill` call of `--prompt-length` real tokens padded
  to the exported prefill length) and decode ms/token (the `decode`
  signature run from Python, KV cache in and out, greedy);
- Keras `generate` ms/token (XLA, greedy, KV cache): the time of
  `--new-tokens` new tokens minus the time of one, per extra token;
- accuracy against the Keras model on held-out tokens (teacher-forced
  through `decode`): the largest absolute logit error and the top-1
  agreement of the next-token predictions.

With `--task-model DIR --task-data FILE`, a fine-tuned classifier's
accuracy on FILE in Keras and in each LiteRT file (the `.tflite` run on
token ids, tokenization and input transformations outside).

    python benchmarks/litert_decode.py [--models tiny gpt1] [--model DIR]
        [--new-tokens 32] [--gpt1-new-tokens 8] [--threads N]
        [--task-model DIR --task-data FILE] [--json]
"""

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time

import numpy as np

import keras_gpt1
from keras_gpt1.export import LiteRTCausalLM
from keras_gpt1.export.causal_lm_litert import DEFAULT_PREFILL_LENGTH
from keras_gpt1.export.causal_lm_litert import CausalLMLiteRTModule
from keras_gpt1.export.causal_lm_litert import causal_lm_litert_config
from keras_gpt1.export.litert_bundle import write_bundle
from keras_gpt1.export.litert_conversion import QUANTIZATIONS
from keras_gpt1.export.litert_conversion import TracedModule

HELD_OUT_TEXT = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data",
                             "tinyshakespeare", "input.txt")
HELD_OUT_CHARS = 4000  # from the end of the file (the validation split's side)
REPEATS = 3
VARIANT_NAMES = {"none": "litert float32", "float16": "litert float16",
                 "int8": "litert int8 (dynamic range)"}
MB = 1e6


def preset_model(preset):
    import keras

    keras.utils.set_random_seed(0)
    backbone = keras_gpt1.GPT1Backbone.from_preset(preset, dropout=0.0)
    return keras_gpt1.GPT1CausalLM(backbone)


def held_out_ids(model, length, seed=0):
    """`length` ids of held-out text when the model has a tokenizer and the
    text is there, else random ids."""
    tokenizer = model.tokenizer
    if tokenizer is not None and os.path.isfile(HELD_OUT_TEXT):
        with open(HELD_OUT_TEXT, encoding="utf-8") as f:
            text = f.read()[-HELD_OUT_CHARS:]
        ids = np.asarray(tokenizer([text])[0], "int32")
        if len(ids) >= length:
            return ids[:length], "tinyshakespeare tail"
    rng = np.random.default_rng(seed)
    return rng.integers(0, model.backbone.vocabulary_size, length).astype("int32"), \
        "random ids"


def best_of(fn, repeats=REPEATS):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def keras_generate_ms_per_token(model, prompt, new_tokens):
    def run(n):
        return lambda: model.generate([prompt], max_new_tokens=n, stop_at_end=False)

    for n in (1, new_tokens):
        run(n)()  # compile
    one, _ = best_of(run(1))
    many, _ = best_of(run(new_tokens))
    return 1000 * (many - one) / (new_tokens - 1)


def teacher_forced_logits(runner, ids):
    """Next-token logits after each of `ids`, one `decode` call per token."""
    cache = runner.initial_cache()
    rows = []
    for position, token in enumerate(ids):
        logits, cache = runner.decode(int(token), position, cache)
        rows.append(logits)
    return np.stack(rows)


def litert_timings(runner, prompt, new_tokens):
    prefill_best, _ = best_of(lambda: runner.prefill(prompt))
    logits, cache = runner.prefill(prompt)

    def decode_loop():
        step_cache = cache
        token, position = int(np.argmax(logits)), len(prompt)
        for _ in range(new_tokens):
            step_logits, step_cache = runner.decode(token, position, step_cache)
            token, position = int(np.argmax(step_logits)), position + 1

    decode_best, _ = best_of(decode_loop)
    return 1000 * prefill_best, 1000 * decode_best / new_tokens


def benchmark_model(name, model, new_tokens, prompt_length, accuracy_tokens, threads,
                    work_dir):
    backbone = model.backbone
    max_length = backbone.max_sequence_length
    prefill_length = min(DEFAULT_PREFILL_LENGTH, max_length)
    ids, source = held_out_ids(model, max(prompt_length, accuracy_tokens))
    prompt = ids[:prompt_length]
    accuracy_ids = ids[:accuracy_tokens]
    expected = np.asarray(model(accuracy_ids[None]))[0]

    rows = [{
        "model": name, "variant": "keras generate (XLA)",
        "parameters": int(model.count_params()),
        "size_mb": None, "prefill_ms": None,
        "decode_ms_per_token": keras_generate_ms_per_token(model, prompt, new_tokens),
        "max_logit_error": 0.0, "top1_agreement": 1.0,
    }]
    module = CausalLMLiteRTModule(model, max_length, prefill_length)
    with TracedModule(module) as traced:  # traced once, converted 3 ways
        for quantize in QUANTIZATIONS:
            start = time.perf_counter()
            tflite = traced.convert(quantize)
            convert_s = time.perf_counter() - start
            bundle = os.path.join(work_dir, f"{name}-{quantize}")
            config = causal_lm_litert_config(module, model.tokenizer, quantize)
            write_bundle(bundle, tflite, model.tokenizer, config)
            del tflite
            runner = LiteRTCausalLM(os.path.join(bundle, "model.tflite"),
                                    num_threads=threads)
            prefill_ms, decode_ms = litert_timings(runner, prompt, new_tokens)
            got = teacher_forced_logits(runner, accuracy_ids)
            rows.append({
                "model": name, "variant": VARIANT_NAMES[quantize],
                "parameters": int(model.count_params()),
                "size_mb": os.path.getsize(os.path.join(bundle, "model.tflite")) / MB,
                "prefill_ms": prefill_ms, "decode_ms_per_token": decode_ms,
                "max_logit_error": float(np.abs(got - expected).max()),
                "top1_agreement": float(np.mean(got.argmax(-1) == expected.argmax(-1))),
                "convert_s": convert_s,
            })
            del runner
            shutil.rmtree(bundle, ignore_errors=True)
    for row in rows:
        row.update(prompt_tokens=len(prompt), prefill_length=prefill_length,
                   new_tokens=new_tokens, max_length=max_length,
                   accuracy_tokens=len(accuracy_ids), held_out=source)
    return rows


TASK_BATCH_SIZE = 32


def benchmark_task(model_dir, data_file, threads, work_dir):
    """Accuracy of a fine-tuned classifier on `data_file`: Keras, then each
    LiteRT quantization; plus agreement with Keras's predictions."""
    from keras_gpt1.data.task_labels import encode_labels
    from keras_gpt1.export import LiteRTTaskModel
    from keras_gpt1.export import export_litert
    from keras_gpt1.training import metrics
    from keras_gpt1.training.task_evaluation import load_task_model
    from keras_gpt1.training.task_evaluation import predict_task_model
    from keras_gpt1.training.task_evaluation import read_for_model

    model = load_task_model(model_dir)
    table = read_for_model(model, data_file)
    labels = encode_labels(table, model.label_kind, model.label_names)
    name = os.path.basename(os.path.normpath(model_dir))
    expected = np.array([[p["probabilities"][n] for n in model.label_names]
                         for p in predict_task_model(model, table)])
    rows = [{"model": name, "variant": "keras", "examples": len(table),
             "accuracy": metrics.accuracy(labels, expected.argmax(-1)),
             "agreement": 1.0, "max_probability_error": 0.0, "size_mb": None}]
    for quantize in QUANTIZATIONS:
        bundle = os.path.join(work_dir, f"{name}-{quantize}")
        path = export_litert(model, bundle, quantize=quantize)["path"]
        runner = LiteRTTaskModel(path, num_threads=threads)
        got = np.concatenate([
            runner.run([column[i:i + TASK_BATCH_SIZE] for column in table.texts])[
                "probabilities"]
            for i in range(0, len(table), TASK_BATCH_SIZE)
        ])
        rows.append({
            "model": name, "variant": VARIANT_NAMES[quantize], "examples": len(table),
            "accuracy": metrics.accuracy(labels, got.argmax(-1)),
            "agreement": float(np.mean(got.argmax(-1) == expected.argmax(-1))),
            "max_probability_error": float(np.abs(got - expected).max()),
            "size_mb": os.path.getsize(path) / MB,
        })
        shutil.rmtree(bundle, ignore_errors=True)
    return rows


def print_task_table(rows):
    header = ("task model", "variant", "size MB", "accuracy", "agrees with keras",
              "max |dprob|")
    lines = [header] + [
        (r["model"], r["variant"], _cell(r["size_mb"], ".1f"), f"{r['accuracy']:.4f}",
         f"{r['agreement']:.4f}", f"{r['max_probability_error']:.2e}") for r in rows]
    _print_lines(lines)


def _cell(value, fmt):
    return "-" if value is None else format(value, fmt)


def print_table(rows):
    header = ("model", "variant", "size MB", "prefill ms", "decode ms/tok",
              "max |dlogit|", "top-1 agree")
    lines = [header]
    for r in rows:
        lines.append((r["model"], r["variant"], _cell(r["size_mb"], ".1f"),
                      _cell(r["prefill_ms"], ".1f"), _cell(r["decode_ms_per_token"], ".2f"),
                      _cell(r["max_logit_error"], ".2e"), _cell(r["top1_agreement"], ".3f")))
    _print_lines(lines)


def _print_lines(lines):
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(lines[0]))]
    for i, line in enumerate(lines):
        print(" | ".join(str(c).ljust(w) for c, w in zip(line, widths)))
        if i == 0:
            print("-+-".join("-" * w for w in widths))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=["tiny", "gpt1"],
                        choices=sorted(keras_gpt1.GPT1Backbone.presets),
                        help="presets to build with random weights")
    parser.add_argument("--model", action="append", default=[], metavar="DIR",
                        help="a trained model directory (repeatable)")
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--gpt1-new-tokens", type=int, default=8,
                        help="new tokens for the full-size preset (slow on CPU)")
    parser.add_argument("--prompt-length", type=int, default=32)
    parser.add_argument("--accuracy-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--task-model", metavar="DIR",
                        help="a fine-tuned classifier (keras-gpt1 finetune output)")
    parser.add_argument("--task-data", metavar="FILE",
                        help="labelled file the task model is scored on")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if bool(args.task_model) != bool(args.task_data):
        parser.error("--task-model and --task-data go together")

    from keras_gpt1 import artifacts

    models = [(p, lambda p=p: preset_model(p)) for p in args.models]
    models += [(os.path.basename(os.path.normpath(d)), lambda d=d: artifacts.load_model(d))
               for d in args.model]
    rows = []
    with tempfile.TemporaryDirectory(prefix="litert-bench-") as work_dir:
        for name, build in models:
            model = build()
            new_tokens = args.gpt1_new_tokens if name == "gpt1" else args.new_tokens
            rows += benchmark_model(name, model, new_tokens, args.prompt_length,
                                    args.accuracy_tokens, args.threads, work_dir)
            del model
        task_rows = []
        if args.task_model:
            task_rows = benchmark_task(args.task_model, args.task_data, args.threads,
                                       work_dir)
    if rows:
        print_table(rows)
    if task_rows:
        print()
        print_task_table(task_rows)
    if args.json:
        print(json.dumps({"rows": rows, "task_rows": task_rows, "threads": args.threads},
                         sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
