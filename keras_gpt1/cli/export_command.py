"""Export a trained model for TF Serving (SavedModel), devices (LiteRT, LiteRT-LM) or Hugging Face.

`--format saved_model` writes `OUTPUT/<version>/` (signatures
`serving_default` and `logits`, warm-up requests); `--format litert`
writes the directory `OUTPUT` with `model.tflite` (builtin ops only), the
tokenizer files and `litert_config.json`; `--format litertlm` writes one
`OUTPUT.litertlm` file for Google's LiteRT-LM runtime (causal LMs);
`--format transformers` writes a Hugging Face `openai-gpt` directory
(causal LMs).
"""

from keras_gpt1.choices import EXPORT_FORMATS as FORMATS
from keras_gpt1.choices import QUANTIZATIONS
from keras_gpt1.cli import flags


def add_arguments(p):
    p.add_argument("--model", required=True, metavar="DIR",
                   help="model directory (keras-gpt1 pretrain/finetune output)")
    p.add_argument("--format", required=True, choices=FORMATS)
    p.add_argument("--output", required=True, metavar="PATH",
                   help="saved_model: base directory of the versions; "
                   "litert, transformers: a new directory; litertlm: a new "
                   "FILE.litertlm")
    p.add_argument("--quantize", choices=QUANTIZATIONS, default="none",
                   help="litert, litertlm weights: float32 (none), float16 or "
                   "dynamic-range int8")
    p.add_argument("--max-length", type=flags.positive_int, default=None, metavar="N",
                   help="most tokens of prompt + continuation, or of one task "
                   "sequence (default: the model's context); fixes the LiteRT "
                   "cache length")
    p.add_argument("--version", type=flags.positive_int, default=None, metavar="N",
                   help="saved_model version (default: one past the highest)")
    p.add_argument("--max-new-tokens", type=flags.positive_int, default=32, metavar="N",
                   help="saved_model: tokens `serving_default` generates (causal LM)")
    p.add_argument("--prefill-length", type=flags.positive_int, default=None, metavar="N",
                   help="litert: tokens per `prefill` call (default: min(128, max length))")
    p.add_argument("--prefill-lengths", type=flags.positive_int, nargs="+", default=None,
                   metavar="N", help="litertlm: one `prefill_N` signature per length "
                   "(default: 8 32 128, those within the max length)")
    p.add_argument("--gate-text", default=None, metavar="FILE",
                   help="litert, litertlm with --quantize: held-out UTF-8 text the "
                   "quality gate measures the quantized file on (perplexity within 1%% "
                   "of float32, greedy agreement; default: a built-in passage)")


def run(args):
    from keras_gpt1.export import export_model_directory

    result = export_model_directory(
        args.model,
        args.format,
        args.output,
        quantize=args.quantize,
        max_length=args.max_length,
        version=args.version,
        max_new_tokens=args.max_new_tokens,
        prefill_length=args.prefill_length,
        prefill_lengths=args.prefill_lengths,
        gate_text_file=args.gate_text,
    )
    print(f"exported {args.format} to {result['path']}")
    gate = result.get("quality_gate")
    if gate:
        from keras_gpt1.export.quality_gate import describe

        print(describe(gate))
    return result
