"""A `GPT1CausalLM` for Google's LiteRT-LM runtime (Android, iOS, Linux,
macOS, Windows): one `.litertlm` file that the runtime loads and runs,
tokenizer and sampling included.

    FILE.litertlm   (a LiteRT-LM container, built with `litert_lm_builder`)
      TFLite model (PREFILL_DECODE): `prefill_{n}` for several n and
          `decode`, the signatures of `causal_lm_litert.py` (tensors
          `tokens`, `input_pos`, `kv_cache_k_{i}` / `kv_cache_v_{i}`
          `(1, max_length, heads, head_dim)`, `logits`)
      LlmMetadata: the stop token (the tokenizer's end token), no start
          token (GPT-1 was pre-trained without one), `max_num_tokens` =
          the cache length, a greedy default sampler (TOP_P with k = 1:
          LiteRT-LM 0.18 on CPU implements only TOP_P), empty prompt
          templates (plain text in, plain text out)
      ExecutorMetadata: each cache's sequence axis (1); without it the
          runtime reads the context from the key cache as if it were
          `(1, heads, T, head_dim)`
      tokenizer.json: either tokenizer, ids equal to the model's
          (`tokenizers/hf_tokenizer_json.py`)

LiteRT-LM prefills a prompt in chunks, largest signature first, and pads
the last chunk (with position 0); the graph takes the logits of the
largest position and writes the cache at `input_pos[0]`, so any padding
is harmless. Several prefill lengths let a prompt fit the space left in
the cache.
"""

import os
import tempfile

from keras_gpt1 import artifacts
from keras_gpt1.errors import GPT1InputError
from keras_gpt1.export.causal_lm_litert import CausalLMLiteRTModule
from keras_gpt1.export.export_module import check_max_length
from keras_gpt1.export.export_module import require_tokenizer
from keras_gpt1.export.litert_conversion import NO_QUANTIZATION
from keras_gpt1.export.litert_conversion import check_quantization
from keras_gpt1.export.litert_conversion import convert_module
from keras_gpt1.export.quality_gate import QualityGate
from keras_gpt1.export.quality_gate import describe
from keras_gpt1.export.signatures import DECODE_SIGNATURE
from keras_gpt1.export.signatures import key_cache_name
from keras_gpt1.export.signatures import value_cache_name

LITERTLM_SUFFIX = ".litertlm"
# Tokens per prefill call: short prompts, chunks, and a last piece that
# fits near the end of the cache.
DEFAULT_PREFILL_LENGTHS = (8, 32, 128)
# The cache's sequence axis in `(1, max_length, heads, head_dim)`.
CACHE_SEQUENCE_AXIS = 1
# LiteRT-LM 0.18.1 decodes ids 105 and 106 (Gemma's turn tokens) when it
# loads a file and aborts the process (a panic in `tokenizers`' BPE
# decoder) if the tokenizer has no such ids: a vocabulary of fewer ids
# (a test-sized one; real ones have 40,478 or thousands) is padded with
# unreachable entries. Measured: 105 ids abort, 107 load.
LITERT_LM_MIN_VOCABULARY = 128
FORMAT_VERSION = "1"


def prefill_signature(length):
    return f"prefill_{length}"


def check_litertlm_output(output):
    if not str(output).endswith(LITERTLM_SUFFIX):
        raise GPT1InputError(
            f"--format litertlm writes one file; give --output a path ending in "
            f"{LITERTLM_SUFFIX} (got {output})"
        )
    artifacts.check_new_output(output)


def check_prefill_lengths(prefill_lengths, max_length):
    """Sorted distinct lengths in `[1, max_length]` (default: those of
    `DEFAULT_PREFILL_LENGTHS` that fit, or `max_length` alone)."""
    if prefill_lengths is None:
        lengths = [n for n in DEFAULT_PREFILL_LENGTHS if n <= max_length]
        return tuple(lengths or [max_length])
    lengths = sorted(set(prefill_lengths))
    bad = [n for n in lengths if not isinstance(n, int) or not 1 <= n <= max_length]
    if not lengths or bad:
        raise GPT1InputError(
            f"prefill lengths must be between 1 and the max length of {max_length}; "
            f"got {list(prefill_lengths)}"
        )
    return tuple(lengths)


def llm_metadata(tokenizer, max_length):
    """The `LlmMetadata` proto of the module docstring."""
    from litert_lm_builder.runtime.proto import llm_metadata_pb2
    from litert_lm_builder.runtime.proto import sampler_params_pb2

    metadata = llm_metadata_pb2.LlmMetadata()
    metadata.stop_tokens.add().token_ids.ids.append(int(tokenizer.end_token_id))
    metadata.max_num_tokens = int(max_length)
    sampler = metadata.sampler_params
    sampler.type = sampler_params_pb2.SamplerParameters.TOP_P
    sampler.k, sampler.p, sampler.temperature, sampler.seed = 1, 1.0, 1.0, 0
    for role in ("user", "model", "system"):
        template = getattr(metadata.prompt_templates, role)
        template.prefix, template.suffix = "", ""
    # The builder's validation insists on these being set.
    metadata.supports_thinking = False
    metadata.supports_function_calling = False
    return metadata


def executor_metadata(num_layers):
    """The `ExecutorMetadata` proto: every cache a global key or value
    state buffer, the same name in and out, sequence on axis 1."""
    from litert_lm_builder.runtime.proto import executor_metadata_pb2 as proto

    metadata = proto.ExecutorMetadata()
    for i in range(num_layers):
        for name, kind in ((key_cache_name(i), proto.StateBuffer.TYPE_GLOBAL_KEY_CACHE),
                           (value_cache_name(i), proto.StateBuffer.TYPE_GLOBAL_VALUE_CACHE)):
            buffer = metadata.llm_executor_metadata.state_buffers.add()
            buffer.prefill_input_name = buffer.prefill_output_name = name
            buffer.decode_input_name = buffer.decode_output_name = name
            buffer.type = kind
            buffer.sequence_axis = CACHE_SEQUENCE_AXIS
    return metadata


def write_litertlm(path, tflite_bytes, tokenizer_json_text, llm_md, executor_md,
                   system_metadata):
    """Build the container at `path` with `litert_lm_builder` (which takes
    files, not bytes: the sections go through a temporary directory)."""
    from litert_lm_builder import litertlm_builder as builder_lib

    with tempfile.TemporaryDirectory(prefix="gpt1-litertlm-") as tmp:
        files = {
            "model.tflite": tflite_bytes,
            "llm_metadata.pb": llm_md.SerializeToString(),
            "executor_metadata.pb": executor_md.SerializeToString(),
            "tokenizer.json": tokenizer_json_text.encode("utf-8"),
        }
        for name, data in files.items():
            with open(os.path.join(tmp, name), "wb") as f:
                f.write(data)
        builder = builder_lib.LitertLmFileBuilder()
        for key, value in system_metadata.items():
            builder.add_system_metadata(builder_lib.Metadata(
                key=key, value=str(value), dtype=builder_lib.DType.STRING))
        builder.add_tflite_model(os.path.join(tmp, "model.tflite"),
                                 builder_lib.TfLiteModelType.PREFILL_DECODE)
        builder.add_llm_metadata(os.path.join(tmp, "llm_metadata.pb"))
        builder.add_executor_metadata(os.path.join(tmp, "executor_metadata.pb"))
        builder.add_hf_tokenizer(os.path.join(tmp, "tokenizer.json"))
        with open(path, "wb") as f:  # the builder seeks: a real file
            builder.build(f, validate_metadata=True)


def export_causal_lm_litertlm(model, output, quantize=NO_QUANTIZATION,
                              max_length=None, prefill_lengths=None, gate_text=None):
    """Write `output` (a new `.litertlm` file) atomically; returns a
    summary (`format`, `path`, `size_bytes`, `signatures`, ...,
    `quality_gate`: the figures of the quality gate a quantized file passes
    first, on `gate_text` or a built-in passage; see `quality_gate.py`)."""
    from keras_gpt1.tokenizers.hf_tokenizer_json import tokenizer_json

    check_quantization(quantize)
    check_litertlm_output(output)
    require_tokenizer(model, "a .litertlm carries the tokenizer for the runtime")
    check_litertlm_installed()
    max_length = check_max_length(model, max_length)
    lengths = check_prefill_lengths(prefill_lengths, max_length)
    gate = QualityGate(model, quantize, gate_text)
    module = CausalLMLiteRTModule(
        model, max_length, {prefill_signature(n): n for n in lengths})
    backbone = model.backbone
    tflite_bytes = convert_module(module, quantize,
                                  tied_vocabulary_size=backbone.vocabulary_size)
    quality = gate.check(module, tflite_bytes)
    tokenizer = model.tokenizer
    system_metadata = {
        "keras_gpt1_format_version": FORMAT_VERSION,
        "keras_gpt1_tokenizer_class": type(tokenizer).__name__,
        "keras_gpt1_vocabulary_size": backbone.vocabulary_size,
        "keras_gpt1_quantization": quantize,
    }
    if quality is not None:
        system_metadata["keras_gpt1_quality_gate"] = describe(quality)
    with artifacts.publishing_file(output) as work:
        write_litertlm(work, tflite_bytes,
                       tokenizer_json(tokenizer, LITERT_LM_MIN_VOCABULARY),
                       llm_metadata(tokenizer, max_length),
                       executor_metadata(backbone.num_layers), system_metadata)
    signatures = [prefill_signature(n) for n in lengths] + [DECODE_SIGNATURE]
    return {
        "format": "litertlm",
        "path": os.path.abspath(output),
        "size_bytes": os.path.getsize(output),
        "tflite_bytes": len(tflite_bytes),
        "quantization": quantize,
        "max_length": max_length,
        "prefill_lengths": list(lengths),
        "signatures": signatures,
        "stop_token_id": int(tokenizer.end_token_id),
        "tokenizer_class": type(tokenizer).__name__,
        "parameters": int(backbone.count_params()),
        "quality_gate": quality,
    }


def check_litertlm_installed():
    try:
        import litert_lm_builder  # noqa: F401
    except ImportError:
        raise GPT1InputError(
            "--format litertlm needs LiteRT-LM's builder: pip install litert-lm "
            "(or keras-gpt1[litertlm])"
        ) from None
