"""A `GPT1CausalLM` back to Hugging Face: the `transformers` cell of the
export grid. The format itself (config, tensor names, tokenizer files) is
`convert/hf_checkpoint.py`'s, which reads it too."""

from keras_gpt1.convert.hf_checkpoint import export_transformers_directory
from keras_gpt1.export.export_module import require_tokenizer


def export_causal_lm_transformers(model, output_dir):
    """Write the Hugging Face directory `output_dir` (new) atomically;
    returns a summary (`format`, `path`, `files`, `parameters`,
    `tokenizer_class`)."""
    require_tokenizer(model, "transformers' pipeline needs one (export the "
                      "backbone alone with GPT1Backbone.export_to_transformers)")
    return export_transformers_directory(model, output_dir)
