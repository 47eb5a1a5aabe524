"""Import OpenAI's GPT-1 weights (original release or Hugging Face
`openai-gpt`) into `GPT1CausalLM`; see `weight_table` for the names."""

from keras_gpt1.convert.convert_checkpoint import convert_checkpoint
from keras_gpt1.convert.convert_checkpoint import load_checkpoint
from keras_gpt1.convert.hf_checkpoint import read_hf_checkpoint
from keras_gpt1.convert.openai_checkpoint import read_openai_checkpoint
from keras_gpt1.convert.special_token_rows import add_special_token_rows
from keras_gpt1.convert.weight_table import build_backbone

__all__ = [
    "add_special_token_rows",
    "build_backbone",
    "convert_checkpoint",
    "load_checkpoint",
    "read_hf_checkpoint",
    "read_openai_checkpoint",
]
