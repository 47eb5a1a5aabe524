"""Generate text from a prompt with a trained model (KV cache, XLA), a LiteRT bundle or a .litertlm."""

import argparse

from keras_gpt1.choices import SAMPLERS
from keras_gpt1.cli import flags


def utf8_text(text):
    """argparse type: text that is valid UTF-8 (arguments with bytes that
    are not arrive as lone surrogates, which no tokenizer can encode)."""
    bad = next((i for i, c in enumerate(text) if "\ud800" <= c <= "\udfff"), None)
    if bad is not None:
        byte = len(text[:bad].encode("utf-8"))
        raise argparse.ArgumentTypeError(f"not valid UTF-8 at byte {byte}")
    return text


def add_arguments(p):
    p.add_argument("--model", required=True, metavar="PATH",
                   help="model directory (or .keras file); a LiteRT bundle "
                   "directory or its model.tflite (greedy only); or a .litertlm "
                   "file (run by LiteRT-LM: greedy, top_k, top_p)")
    p.add_argument("--prompt", required=True, type=utf8_text, help="text to continue")
    p.add_argument("--max-new-tokens", type=flags.positive_int, default=32)
    p.add_argument("--sampler", choices=SAMPLERS, default="greedy")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-k", type=flags.positive_int, default=10)
    p.add_argument("--top-p", type=float, default=0.9)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--threads", type=flags.positive_int, default=None,
                   help="CPU threads of the LiteRT / LiteRT-LM runtime")
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
    if args.model.endswith(".litertlm"):
        return _run_litertlm(args)
    tflite = litert_model_file(args.model)
    if tflite is not None:
        return _run_litert(args, tflite)
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
    return _result(args, text)


def litert_model_file(path):
    """The `.tflite` of a LiteRT bundle given as the file or its directory,
    else None."""
    import os

    from keras_gpt1.export.litert_bundle import CONFIG_FILE
    from keras_gpt1.export.litert_bundle import MODEL_FILE

    if path.endswith(".tflite"):
        return path
    if os.path.isfile(os.path.join(path, CONFIG_FILE)):
        return os.path.join(path, MODEL_FILE)
    return None


def _result(args, text):
    print(text)
    return {"text": text, "prompt": args.prompt, "completion": text[len(args.prompt):]}


def _run_litert(args, tflite):
    """Greedy decoding of a LiteRT bundle's `prefill`/`decode` signatures."""
    from keras_gpt1.errors import GPT1InputError
    from keras_gpt1.export import LiteRTCausalLM

    if args.sampler != "greedy":
        raise GPT1InputError(
            f"a .tflite model decodes greedily; got --sampler {args.sampler}"
        )
    text = LiteRTCausalLM(tflite, num_threads=args.threads).generate(
        args.prompt, max_new_tokens=args.max_new_tokens
    )
    return _result(args, text)


def _run_litertlm(args):
    """Generation by Google's LiteRT-LM runtime (its tokenizer, sampler
    and KV cache)."""
    from keras_gpt1.export import LiteRTLMCausalLM

    runner = LiteRTLMCausalLM(args.model, num_threads=args.threads or 1)
    text = runner.generate(
        args.prompt, max_new_tokens=args.max_new_tokens, sampler=args.sampler,
        temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
        seed=args.seed,
    )
    return _result(args, text)
