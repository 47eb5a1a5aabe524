"""Turn a GPT-1 checkpoint (OpenAI's release or Hugging Face's
`openai-gpt`) into a keras-gpt1 model directory.

The directory holds `model.keras` (a `GPT1CausalLM` with the checkpoint's
weights and its `OpenAIGPTTokenizer` inside), the tokenizer files copied
from the source, and `summary.json`. It is written next to the output as a
hidden temporary directory and renamed into place when complete
(`artifacts.publishing_directory`), so an error leaves nothing behind.
"""

import os
import shutil

from keras_gpt1 import artifacts
from keras_gpt1.convert.hf_checkpoint import read_hf_checkpoint
from keras_gpt1.convert.openai_checkpoint import DEFAULT_NUM_HEADS
from keras_gpt1.convert.openai_checkpoint import read_openai_checkpoint
from keras_gpt1.convert.weight_table import build_backbone
from keras_gpt1.errors import GPT1InputError
from keras_gpt1.tokenizers.openai_gpt_tokenizer import ORIGINAL_SPECIAL_TOKENS
from keras_gpt1.tokenizers.openai_gpt_tokenizer import TOKENIZER_FILE_PAIRS
from keras_gpt1.tokenizers.openai_gpt_tokenizer import OpenAIGPTTokenizer
from keras_gpt1.tokenizers.openai_gpt_tokenizer import find_tokenizer_files

OPENAI_FORMAT = "openai"
HF_FORMAT = "huggingface"
SOURCE_FORMATS = (OPENAI_FORMAT, HF_FORMAT)
# The paper's dropout, kept for fine-tuning; inference does not use it.
DROPOUT = 0.1


def read_checkpoint(directory, source_format, num_heads=None):
    """`(weights, architecture)` of either layout (see `weight_table`)."""
    if source_format == OPENAI_FORMAT:
        return read_openai_checkpoint(directory, num_heads or DEFAULT_NUM_HEADS)
    if source_format == HF_FORMAT:
        return read_hf_checkpoint(directory, num_heads)
    raise GPT1InputError(
        f"unknown checkpoint format '{source_format}'; choose one of "
        f"{', '.join(SOURCE_FORMATS)}"
    )


def check_tokenizer_fits(tokenizer, backbone, source):
    """The tokenizer's BPE ids must be exactly the embedding's rows."""
    ids = [i for t, i in tokenizer.vocabulary.items() if t not in ORIGINAL_SPECIAL_TOKENS]
    if len(ids) != backbone.vocabulary_size or max(ids) + 1 != backbone.vocabulary_size:
        raise GPT1InputError(
            f"{source} has {len(ids)} tokens (largest id {max(ids)}) but the "
            f"token embedding has {backbone.vocabulary_size} rows"
        )


def load_checkpoint(directory, source_format, num_heads=None, dropout=DROPOUT):
    """A `GPT1CausalLM` holding a checkpoint's weights.

    Args:
        directory: OpenAI's release (`params_shapes.json`, `params_*.npy`)
            or a Hugging Face `openai-gpt` directory (`config.json`,
            `model.safetensors`).
        source_format: "openai" or "huggingface".
        num_heads: heads of an OpenAI release (default 12, which its
            shapes cannot tell); for Hugging Face, must match `n_head`.

    The model's tokenizer is an `OpenAIGPTTokenizer` when the directory
    has its files, else None. The embedding has the checkpoint's rows only;
    see `add_special_token_rows` for fine-tuning.
    """
    weights, architecture = read_checkpoint(directory, source_format, num_heads)
    backbone = build_backbone(weights, architecture, source=directory, dropout=dropout)
    del weights
    tokenizer = None
    files = find_tokenizer_files(directory)
    if files is not None:
        tokenizer = OpenAIGPTTokenizer.from_files(*files)
        check_tokenizer_fits(tokenizer, backbone, files[0])
    from keras_gpt1.models.gpt1_causal_lm import GPT1CausalLM

    return GPT1CausalLM(backbone, tokenizer=tokenizer)


def convert_checkpoint(directory, output, source_format, num_heads=None):
    """Write the model directory `output`; returns the summary dict
    (`output`, `parameters`, `vocabulary_size`, `tokenizer_vocabulary_size`,
    `num_layers`, `num_heads`, `hidden_dim`, `source_format`)."""
    artifacts.check_new_output(output)
    if not os.path.isdir(directory):
        raise GPT1InputError(f"not a directory: {directory}")
    files = find_tokenizer_files(directory)
    if files is None:
        names = " or ".join(" + ".join(pair) for pair in TOKENIZER_FILE_PAIRS)
        raise GPT1InputError(f"no tokenizer files in {directory}: need {names}")
    model = load_checkpoint(directory, source_format, num_heads)
    backbone = model.backbone

    summary = {
        "output": os.path.abspath(output),
        "parameters": int(model.count_params()),
        "vocabulary_size": int(backbone.vocabulary_size),
        "tokenizer_vocabulary_size": int(model.tokenizer.vocabulary_size()),
        "num_layers": int(backbone.num_layers),
        "num_heads": int(backbone.num_heads),
        "hidden_dim": int(backbone.hidden_dim),
        "source_format": source_format,
    }
    with artifacts.publishing_directory(output) as work:
        artifacts.save_model_file(model, os.path.join(work, artifacts.MODEL_FILE))
        for path in files:
            # A plain copy: the result gets the user's usual permissions.
            shutil.copyfile(path, os.path.join(work, os.path.basename(path)))
        artifacts.write_json(os.path.join(work, artifacts.SUMMARY_FILE), summary)
    return summary
