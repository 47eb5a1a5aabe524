"""What LiteRT quantization costs a trained model: held-out perplexity and
greedy agreement of each `.tflite` against Keras, and a fine-tuned
classifier's accuracy.

Causal LM (`--model DIR`, a `keras-gpt1 pretrain` output): the held-out
text (`--text`, e.g. the end of Tiny Shakespeare the model did not train
on) is cut into windows of the exported length; every window is run
teacher-forced through the `.tflite`'s `decode` signature (the KV cache as
on a device) and through Keras. Per variant: perplexity, its change against
Keras float32, the largest logit error, top-1 agreement of next-token
predictions, and how many of `--greedy-prompts` greedy continuations of
`--greedy-tokens` tokens are identical to Keras's (and the mean length of
the identical prefix). Variants: float32, float16, dynamic-range int8 with
the tied embedding stored once (what `export` writes) and int8 with the
embedding stored twice (per-channel LM head: the converter's default);
with `--int4` (needs `ai-edge-quantizer`), also int4 weights in blocks of
32 (`recipe.dynamic_wi4b32_afp32`, the recipe of Google's own int4 LLM
files) applied to the float32 file, the one candidate for a smaller
quantization: it ships only if it passes the quality gate (perplexity
within 1% of float32, `keras_gpt1/export/quality_gate.py`).

Classifier (`--task-model DIR --task-data FILE`): accuracy of Keras and of
each LiteRT variant of the fine-tuned model on FILE.

    python benchmarks/quantization_accuracy.py --model runs/lm --text heldout.txt \\
        [--task-model runs/sst2 --task-data dev.tsv] [--json]
"""

import argparse
import json
import os
import tempfile

import numpy as np

import keras_gpt1  # noqa: F401  (registers the layers)
from keras_gpt1 import artifacts
from keras_gpt1.export import LiteRTCausalLM
from keras_gpt1.export.causal_lm_litert import CausalLMLiteRTModule
from keras_gpt1.export.causal_lm_litert import causal_lm_litert_config
from keras_gpt1.export.litert_bundle import write_bundle
from keras_gpt1.export.litert_conversion import TracedModule
from keras_gpt1.export.quality_gate import PERPLEXITY_TOLERANCE
from keras_gpt1.export.signatures import PREFILL_SIGNATURE
from keras_gpt1.token_ids import token_id_lists

INT4_VARIANT = "int4 block-32 (ai-edge-quantizer)"
VARIANTS = {  # name -> (quantization, store the tied embedding once)
    "float32": ("none", True),
    "float16": ("float16", True),
    "int8 (embedding once)": ("int8", True),
    "int8 (embedding twice)": ("int8", False),
}


def log_softmax(logits):
    logits = logits - logits.max(axis=-1, keepdims=True)
    return logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))


def teacher_forced(runner, window):
    cache = runner.initial_cache()
    rows = []
    for position, token in enumerate(window):
        logits, cache = runner.decode(int(token), position, cache)
        rows.append(logits)
    return np.stack(rows)


def greedy_ids(runner, prompt, new_tokens):
    return runner.generate_ids(prompt, new_tokens, stop_at_end=False)[len(prompt):]


def int4_block32(float_tflite):
    """`float_tflite` with int4 weights in blocks of 32 (ai-edge-quantizer's
    dynamic_wi4b32_afp32: FULLY_CONNECTED weights; GATHER tables stay
    float32)."""
    from ai_edge_quantizer import quantizer
    from ai_edge_quantizer import recipe

    return bytes(quantizer.Quantizer(bytearray(float_tflite),
                                     recipe.dynamic_wi4b32_afp32()).quantize()
                 .quantized_model)


def lm_rows(model_dir, text_file, max_windows, greedy_prompts, greedy_tokens, work,
            int4=False):
    model = artifacts.load_model(model_dir)
    max_length = model.backbone.max_sequence_length
    with open(text_file, encoding="utf-8") as f:  # lines as pretrain reads them
        lines = [line + "\n" for line in f.read().split("\n")]
    ids = np.concatenate([np.asarray(r, "int32")
                          for r in token_id_lists(model.tokenizer, lines)])
    windows = [ids[i:i + max_length] for i in range(0, len(ids) - max_length,
                                                    max_length)][:max_windows]
    prompt_length = max_length - greedy_tokens
    prompts = [ids[i:i + prompt_length] for i in
               range(0, len(ids) - prompt_length, len(ids) // greedy_prompts)][:greedy_prompts]
    keras_logits = [np.asarray(model(w[None]))[0] for w in windows]
    keras_greedy = [model.generate([p], max_new_tokens=greedy_tokens,
                                   stop_at_end=False)[0][len(p):] for p in prompts]

    def nll(logits_list):
        return float(np.mean(np.concatenate([
            -log_softmax(lg[:-1])[np.arange(len(w) - 1), w[1:]]
            for lg, w in zip(logits_list, windows)])))

    base = nll(keras_logits)
    rows = [{"variant": "keras float32", "perplexity": float(np.exp(base)),
             "perplexity_change": 0.0, "max_logit_error": 0.0, "top1_agreement": 1.0,
             "greedy_identical": len(prompts), "greedy_common_prefix": greedy_tokens,
             "size_bytes": None}]
    module = CausalLMLiteRTModule(model, max_length, {PREFILL_SIGNATURE: max_length})
    variants = dict(VARIANTS)
    if int4:
        variants[INT4_VARIANT] = ("none", True)
    with TracedModule(module) as traced:
        for name, (quantize, shared) in variants.items():
            tflite = traced.convert(
                quantize, model.backbone.vocabulary_size if shared else None)
            if name == INT4_VARIANT:
                tflite = int4_block32(tflite)
            bundle = os.path.join(work, "".join(c if c.isalnum() else "_" for c in name))
            write_bundle(bundle, tflite, model.tokenizer,
                         causal_lm_litert_config(module, model.tokenizer, quantize))
            runner = LiteRTCausalLM(os.path.join(bundle, "model.tflite"))
            logits = [teacher_forced(runner, w) for w in windows]
            greedy = [greedy_ids(runner, p, greedy_tokens) for p in prompts]
            prefixes = [int(np.argmin(np.append(g == k, False))) for g, k in
                        zip(greedy, keras_greedy)]
            value = nll(logits)
            rows.append({
                "variant": f"litert {name}",
                "perplexity": float(np.exp(value)),
                "perplexity_change": float(np.exp(value) / np.exp(base) - 1),
                "max_logit_error": float(max(np.abs(a - b).max()
                                             for a, b in zip(logits, keras_logits))),
                "top1_agreement": float(np.mean(np.concatenate(
                    [a.argmax(-1) == b.argmax(-1) for a, b in zip(logits, keras_logits)]))),
                "greedy_identical": int(sum(p == greedy_tokens for p in prefixes)),
                "greedy_common_prefix": float(np.mean(prefixes)),
                "size_bytes": len(tflite),
                "inside_gate": bool(abs(np.exp(value) / np.exp(base) - 1)
                                    <= PERPLEXITY_TOLERANCE),
            })
    info = {"windows": len(windows), "window_tokens": max_length,
            "scored_tokens": len(windows) * (max_length - 1),
            "greedy_prompts": len(prompts), "greedy_tokens": greedy_tokens,
            "prompt_tokens": prompt_length, "parameters": int(model.count_params())}
    return rows, info


def task_rows(model_dir, data_file, work):
    from keras_gpt1.export import LiteRTTaskModel
    from keras_gpt1.export.litert_conversion import QUANTIZATIONS
    from keras_gpt1.export.model_export import export_litert
    from keras_gpt1.training.task_evaluation import evaluate_task_model
    from keras_gpt1.training.task_evaluation import load_task_model
    from keras_gpt1.training.task_evaluation import read_for_model

    model = load_task_model(model_dir)
    table = read_for_model(model, data_file)
    keras_accuracy = evaluate_task_model(model, table)["accuracy"]
    from keras_gpt1.data.task_labels import encode_labels

    labels = encode_labels(table, model.label_kind, model.label_names)
    rows = [{"variant": "keras float32", "accuracy": keras_accuracy, "examples": len(table)}]
    for quantize in QUANTIZATIONS:
        bundle = os.path.join(work, f"task-{quantize}")
        path = export_litert(model, bundle, quantize=quantize)["path"]
        runner = LiteRTTaskModel(path)
        predictions = []
        for start in range(0, len(table), 64):
            texts = [segment[start:start + 64] for segment in table.texts]
            predictions.append(np.asarray(runner.run(texts)["probabilities"]).argmax(-1))
        accuracy = float(np.mean(np.concatenate(predictions) == labels))
        rows.append({"variant": f"litert {quantize}", "accuracy": accuracy,
                     "accuracy_change_points": 100 * (accuracy - keras_accuracy),
                     "examples": len(table), "size_bytes": os.path.getsize(path)})
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model")
    parser.add_argument("--text")
    parser.add_argument("--windows", type=int, default=40)
    parser.add_argument("--greedy-prompts", type=int, default=8)
    parser.add_argument("--greedy-tokens", type=int, default=96,
                        help="new tokens per greedy continuation (the rest of the "
                        "context is the prompt)")
    parser.add_argument("--int4", action="store_true",
                        help="also int4 block-32 weights (needs ai-edge-quantizer)")
    parser.add_argument("--task-model")
    parser.add_argument("--task-data")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = {}
    with tempfile.TemporaryDirectory() as work:
        if args.model:
            rows, info = lm_rows(args.model, args.text, args.windows,
                                 args.greedy_prompts, args.greedy_tokens, work,
                                 int4=args.int4)
            result["lm"] = {"rows": rows, **info}
            print(f"causal LM: {info['scored_tokens']} held-out tokens in "
                  f"{info['windows']} windows of {info['window_tokens']}; "
                  f"{info['greedy_prompts']} greedy continuations of "
                  f"{info['greedy_tokens']} tokens")
            print(f"{'variant':32s} {'ppl':>8s} {'change':>8s} {'max err':>8s} "
                  f"{'top-1':>6s} {'greedy =':>8s} {'prefix':>7s} {'bytes':>10s}")
            for r in rows:
                print(f"{r['variant']:32s} {r['perplexity']:8.3f} "
                      f"{100 * r['perplexity_change']:7.2f}% {r['max_logit_error']:8.4f} "
                      f"{r['top1_agreement']:6.3f} {r['greedy_identical']:5d}/"
                      f"{info['greedy_prompts']:<2d} {r['greedy_common_prefix']:7.1f} "
                      f"{r['size_bytes'] or 0:10,d}")
        if args.task_model:
            rows = task_rows(args.task_model, args.task_data, work)
            result["task"] = {"rows": rows}
            for r in rows:
                print(f"{r['variant']:32s} accuracy {r['accuracy']:.4f} "
                      f"({r.get('accuracy_change_points', 0):+.2f} points)")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
