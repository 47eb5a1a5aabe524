"""The export grid's one entry point: a model (or model directory) and a
format -> the module of that (model kind × format) cell.

| model kind \\ format | `saved_model` (TF Serving) | `litert` (devices)  | `litertlm` (LiteRT-LM)  | `transformers`            |
|---------------------|----------------------------|---------------------|-------------------------|---------------------------|
| `GPT1CausalLM`      | `causal_lm_saved_model`    | `causal_lm_litert`  | `causal_lm_litertlm`    | `causal_lm_transformers`  |
| `GPT1TaskModel`     | `task_saved_model`         | `task_litert`       | (an LLM runtime)        | (no Hugging Face class)   |
"""

from keras_gpt1 import artifacts
from keras_gpt1.choices import EXPORT_FORMATS as FORMATS  # noqa: F401
from keras_gpt1.choices import LITERT
from keras_gpt1.choices import LITERTLM
from keras_gpt1.choices import SAVED_MODEL
from keras_gpt1.choices import TRANSFORMERS
from keras_gpt1.errors import GPT1InputError
from keras_gpt1.export.litert_conversion import NO_QUANTIZATION
from keras_gpt1.export.litert_conversion import check_quantization
from keras_gpt1.export.saved_model_writer import DEFAULT_MODEL_NAME
from keras_gpt1.export.saved_model_writer import check_base_directory

CAUSAL_LM = "causal_lm"
TASK = "task"


def model_kind(model):
    """`causal_lm` or `task`; `GPT1InputError` for anything else."""
    from keras_gpt1.models import GPT1CausalLM
    from keras_gpt1.models import GPT1TaskModel

    if isinstance(model, GPT1CausalLM):
        return CAUSAL_LM
    if isinstance(model, GPT1TaskModel):
        return TASK
    raise GPT1InputError(
        f"cannot export a {type(model).__name__}; expected a GPT1CausalLM or "
        f"a GPT1TaskModel"
    )


def export_saved_model(model, output, version=None, max_length=None,
                       max_new_tokens=None, model_name=None):
    """Write `output/<version>/` for TF Serving; returns a summary dict.

    Causal LM: `serving_default` (strings -> greedy text, `max_new_tokens`
    fixed here) and `logits`. Task model: `serving_default` (strings ->
    probabilities and label names, or scores) and `logits`.
    """
    model_name = model_name or DEFAULT_MODEL_NAME
    if model_kind(model) == CAUSAL_LM:
        from keras_gpt1.export import causal_lm_saved_model as cell

        if max_new_tokens is None:
            max_new_tokens = cell.DEFAULT_MAX_NEW_TOKENS
        return cell.export_causal_lm_saved_model(
            model, output, version=version, max_new_tokens=max_new_tokens,
            max_length=max_length, model_name=model_name,
        )
    from keras_gpt1.export.task_saved_model import export_task_saved_model

    return export_task_saved_model(
        model, output, version=version, max_length=max_length,
        model_name=model_name,
    )


def export_litert(model, output, quantize=NO_QUANTIZATION, max_length=None,
                  prefill_length=None, gate_text=None):
    """Write a LiteRT bundle directory `output`; returns its config. A
    quantized causal LM passes the quality gate first (`gate_text`: the
    held-out text it is measured on; default a built-in passage)."""
    check_quantization(quantize)
    if model_kind(model) == CAUSAL_LM:
        from keras_gpt1.export.causal_lm_litert import export_causal_lm_litert

        return export_causal_lm_litert(
            model, output, quantize=quantize, max_length=max_length,
            prefill_length=prefill_length, gate_text=gate_text,
        )
    from keras_gpt1.export.task_litert import export_task_litert

    return export_task_litert(model, output, quantize=quantize, max_length=max_length)


def export_litertlm(model, output, quantize=NO_QUANTIZATION, max_length=None,
                    prefill_lengths=None, gate_text=None):
    """Write a `.litertlm` file for Google's LiteRT-LM runtime (causal LMs);
    a quantized one passes the quality gate first (`gate_text` as in
    `export_litert`)."""
    check_quantization(quantize)
    if model_kind(model) != CAUSAL_LM:
        raise GPT1InputError(
            f"the litertlm format is for LiteRT-LM's text generation; a fine-tuned "
            f"{model.task} model exports as --format litert"
        )
    from keras_gpt1.export.causal_lm_litertlm import export_causal_lm_litertlm

    return export_causal_lm_litertlm(model, output, quantize=quantize,
                                     max_length=max_length,
                                     prefill_lengths=prefill_lengths,
                                     gate_text=gate_text)


def export_transformers(model, output):
    """Write a Hugging Face `openai-gpt` directory `output` (causal LMs)."""
    if model_kind(model) != CAUSAL_LM:
        raise GPT1InputError(
            f"the transformers format holds a causal LM (OpenAIGPTLMHeadModel); "
            f"a fine-tuned {model.task} model has no Hugging Face equivalent"
        )
    from keras_gpt1.export.causal_lm_transformers import export_causal_lm_transformers

    return export_causal_lm_transformers(model, output)


def check_bundle_output(output, format):
    """A bundle is a directory: an output named like a single file is
    refused with what to pass instead."""
    artifacts.check_new_output(output)
    if format == LITERT and str(output).endswith((".tflite", ".litertlm")):
        raise GPT1InputError(
            f"--format litert writes a bundle directory (model.tflite, "
            f"litert_config.json, tokenizer files); give --output a directory such "
            f"as {str(output).rsplit('.', 1)[0]} (then generate --model that "
            f"directory), or use --format litertlm for one .litertlm file"
        )


def export_model_directory(model_dir, format, output, quantize=NO_QUANTIZATION,
                           **options):
    """Load the model saved in `model_dir` and export it as `format`.

    `options`: `version`, `max_length`, `max_new_tokens`, `model_name`
    (SavedModel); `max_length`, `prefill_length`, `gate_text_file` (LiteRT);
    `max_length`, `prefill_lengths`, `gate_text_file` (LiteRT-LM); none
    (transformers). `gate_text_file`: a UTF-8 file of held-out text for
    the quality gate of a quantized causal LM.
    """
    if format not in FORMATS:
        raise GPT1InputError(
            f"unsupported format '{format}'; choose one of {', '.join(FORMATS)}"
        )
    check_quantization(quantize)
    from keras_gpt1.export.quality_gate import read_gate_text

    gate_text_file = options.pop("gate_text_file", None)
    if format not in (LITERT, LITERTLM) and quantize != NO_QUANTIZATION:
        raise GPT1InputError(
            f"quantization '{quantize}' applies to the litert format (and litertlm) only"
        )
    if format not in (LITERT, LITERTLM) and gate_text_file is not None:
        raise GPT1InputError("--gate-text applies to the litert and litertlm formats only")
    gate_text = read_gate_text(gate_text_file)
    # Before the (slow) load: the output and what the format needs.
    if format == SAVED_MODEL:
        check_base_directory(output)
    elif format == LITERTLM:
        from keras_gpt1.export.causal_lm_litertlm import check_litertlm_installed
        from keras_gpt1.export.causal_lm_litertlm import check_litertlm_output

        check_litertlm_output(output)
        check_litertlm_installed()
    else:
        check_bundle_output(output, format)
    model = artifacts.load_model(model_dir)
    if format == TRANSFORMERS:
        return export_transformers(model, output)
    if format == LITERTLM:
        return export_litertlm(model, output, quantize=quantize,
                               max_length=options.get("max_length"),
                               prefill_lengths=options.get("prefill_lengths"),
                               gate_text=gate_text)
    options.pop("prefill_lengths", None)
    if format == SAVED_MODEL:
        options.pop("prefill_length", None)
        return export_saved_model(model, output, **options)
    for name in ("version", "max_new_tokens", "model_name"):
        options.pop(name, None)
    return export_litert(model, output, quantize=quantize, gate_text=gate_text,
                         **options)
