"""A `GPT1CausalLM` back to Hugging Face: a directory that
`transformers.OpenAIGPTLMHeadModel.from_pretrained` and
`pipeline("text-generation")` load.

    DIR/config.json          model_type "openai-gpt"
    DIR/model.safetensors    `transformer.*` tensors (the LM head is tied)
    DIR/vocab.json           GPT-1's own tokenizer (OpenAIGPTTokenizer), or
    DIR/merges.txt
    DIR/tokenizer.json       the project's byte-level BPE, with a
    DIR/tokenizer_config.json   `tokenizer_config.json` naming
                             `PreTrainedTokenizerFast` for `AutoTokenizer`

Hugging Face's `Conv1D` stores weights `(in, out)`, Keras's `Dense` layout,
so the weight table of `convert/` maps names one to one. Its GPT-1 has an
MLP of exactly 4 x the width and float weights: other models are refused.
"""

import json
import os

import keras

from keras_gpt1 import artifacts
from keras_gpt1.convert.hf_checkpoint import CONFIG_FILE
from keras_gpt1.convert.hf_checkpoint import MODEL_TYPE
from keras_gpt1.convert.hf_checkpoint import PREFIX
from keras_gpt1.convert.hf_checkpoint import WEIGHTS_FILE
from keras_gpt1.convert.weight_table import backbone_weights
from keras_gpt1.errors import GPT1InputError
from keras_gpt1.export.export_module import require_tokenizer
from keras_gpt1.hyperparameters import INITIALIZER_STDDEV
from keras_gpt1.tokenizers.gpt1_tokenizer import GPT1Tokenizer
from keras_gpt1.tokenizers.hf_tokenizer_json import TOKENIZER_JSON
from keras_gpt1.tokenizers.hf_tokenizer_json import tokenizer_json
from keras_gpt1.tokenizers.hf_tokenizer_json import transformers_tokenizer_config

TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
GENERATION_CONFIG_FILE = "generation_config.json"


def transformers_config(backbone):
    """`config.json` of `transformers.OpenAIGPTConfig` for `backbone`."""
    return {
        "architectures": ["OpenAIGPTLMHeadModel"],
        "model_type": MODEL_TYPE,
        "vocab_size": backbone.vocabulary_size,
        "n_positions": backbone.max_sequence_length,
        "n_embd": backbone.hidden_dim,
        "n_layer": backbone.num_layers,
        "n_head": backbone.num_heads,
        "afn": "gelu",  # transformers' name for GPT-1's tanh GELU
        "resid_pdrop": backbone.dropout,
        "embd_pdrop": backbone.dropout,
        "attn_pdrop": backbone.dropout,
        "layer_norm_epsilon": backbone.layer_norm_epsilon,
        "initializer_range": INITIALIZER_STDDEV,
        "tie_word_embeddings": True,
    }


def check_exportable(backbone):
    """`GPT1InputError` for what `OpenAIGPTLMHeadModel` cannot hold."""
    if backbone.intermediate_dim != 4 * backbone.hidden_dim:
        raise GPT1InputError(
            f"transformers' GPT-1 has an MLP of 4 x the width "
            f"({4 * backbone.hidden_dim}); this model's is {backbone.intermediate_dim}"
        )
    # A quantized layer holds integer weights (int8, or int4 packed in int8).
    quantized = [v.path for v in backbone.weights
                 if keras.backend.standardize_dtype(v.dtype).startswith("int")]
    if quantized:
        raise GPT1InputError(
            f"the model is quantized ({quantized[0]}); export the float model "
            "to transformers and quantize there"
        )


def write_transformers_files(backbone, tokenizer, directory):
    """Write the files of the module docstring into `directory` (the
    tokenizer's only when `tokenizer` is given)."""
    from safetensors.numpy import save_file

    check_exportable(backbone)
    with open(os.path.join(directory, CONFIG_FILE), "w", encoding="utf-8") as f:
        json.dump(transformers_config(backbone), f, indent=2)
    tensors = {PREFIX + name: value for name, value in backbone_weights(backbone).items()}
    save_file(tensors, os.path.join(directory, WEIGHTS_FILE), metadata={"format": "pt"})
    if tokenizer is None:
        return
    if isinstance(tokenizer, GPT1Tokenizer):
        with open(os.path.join(directory, TOKENIZER_JSON), "w", encoding="utf-8") as f:
            f.write(tokenizer_json(tokenizer))
        with open(os.path.join(directory, TOKENIZER_CONFIG_FILE), "w",
                  encoding="utf-8") as f:
            f.write(transformers_tokenizer_config(tokenizer))
        with open(os.path.join(directory, GENERATION_CONFIG_FILE), "w",
                  encoding="utf-8") as f:
            json.dump({"eos_token_id": tokenizer.end_token_id,
                       "pad_token_id": tokenizer.pad_token_id}, f, indent=2)
    else:  # GPT-1's own: vocab.json + merges.txt, as Hugging Face ships them
        tokenizer.save_to_directory(directory)


def export_causal_lm_transformers(model, output_dir):
    """Write the Hugging Face directory `output_dir` (new) atomically;
    returns a summary (`format`, `path`, `files`, `parameters`)."""
    require_tokenizer(model, "transformers' pipeline needs one (export the "
                      "backbone alone with GPT1Backbone.export_to_transformers)")
    check_exportable(model.backbone)
    with artifacts.publishing_directory(output_dir) as work:
        write_transformers_files(model.backbone, model.tokenizer, work)
        files = {name: os.path.getsize(os.path.join(work, name))
                 for name in sorted(os.listdir(work))}
    return {
        "format": "transformers",
        "path": os.path.abspath(output_dir),
        "files": files,
        "parameters": int(model.backbone.count_params()),
        "tokenizer_class": type(model.tokenizer).__name__,
    }
