"""Generate text from a prompt with a trained model (KV cache, XLA)."""

import argparse

from keras_gpt1.cli import flags
from keras_gpt1.models.gpt1_causal_lm import SAMPLERS


def utf8_text(text):
    """argparse type: text that is valid UTF-8 (arguments with bytes that
    are not arrive as lone surrogates, which no tokenizer can encode)."""
    bad = next((i for i, c in enumerate(text) if "\ud800" <= c <= "\udfff"), None)
    if bad is not None:
        byte = len(text[:bad].encode("utf-8"))
        raise argparse.ArgumentTypeError(f"not valid UTF-8 at byte {byte}")
    return text


def add_arguments(p):
    p.add_argument("--model", required=True, metavar="DIR",
                   help="model directory (or .keras file), or the model.tflite "
                   "of a LiteRT bundle (greedy only)")
    p.add_argument("--prompt", required=True, type=utf8_text, help="text to continue")
    p.add_argument("--max-new-tokens", type=flags.positive_int, default=32)
    p.add_argument("--sampler", choices=SAMPLERS, default="greedy")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-k", type=flags.positive_int, default=10)
    p.add_argument("--top-p", type=float, default=0.9)
    p.add_argument("--seed", type=int, default=None)
    flags.add_xla_flag(p)


def run(args):
    from keras_gpt1 import artifacts
    from keras_gpt1.errors import GPT1InputError

    if not args.prompt:
        raise GPT1InputError("prompt is empty")
    if not args.temperature > 0:  # also refuses nan
        raise GPT1InputError(
            f"temperature must be > 0; got {args.temperature} "
            "(--sampler greedy picks the most likely token)"
        )
    if not 0 < args.top_p <= 1:
        raise GPT1InputError(f"top_p must be in (0, 1]; got {args.top_p}")
    if args.model.endswith(".tflite"):
        return _run_litert(args)
    model = artifacts.load_model(args.model)
    model.jit_compile_generate = args.xla
    text = model.generate(
        args.prompt,
        max_new_tokens=args.max_new_tokens,
        sampler=args.sampler,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        seed=args.seed,
    )
    print(text)
    return {"text": text, "prompt": args.prompt, "completion": text[len(args.prompt):]}


def _run_litert(args):
    """Greedy decoding of a LiteRT bundle's `prefill`/`decode` signatures."""
    from keras_gpt1.errors import GPT1InputError
    from keras_gpt1.export import LiteRTCausalLM

    if args.sampler != "greedy":
        raise GPT1InputError(
            f"a .tflite model decodes greedily; got --sampler {args.sampler}"
        )
    text = LiteRTCausalLM(args.model).generate(
        args.prompt, max_new_tokens=args.max_new_tokens
    )
    print(text)
    return {"text": text, "prompt": args.prompt, "completion": text[len(args.prompt):]}
