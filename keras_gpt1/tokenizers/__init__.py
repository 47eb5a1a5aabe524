"""Tokenizers: the project's byte-level BPE (TF ops, or Hugging Face
`tokenizers` where TensorFlow Text is not installed) and GPT-1's original
lower-cased `</w>` BPE (TF ops; for imported OpenAI weights)."""

from keras_gpt1.tokenizers.bpe_training import check_text_files
from keras_gpt1.tokenizers.bpe_training import train_bpe
from keras_gpt1.tokenizers.gpt1_tokenizer import GPT1Tokenizer

__all__ = ["GPT1Tokenizer", "OpenAIGPTTokenizer", "check_text_files", "is_openai_gpt_tokenizer",
           "train_bpe"]


def is_openai_gpt_tokenizer(tokenizer):
    """Whether `tokenizer` is GPT-1's own (`OpenAIGPTTokenizer` or a
    subclass). Asked by class name: that tokenizer's module needs
    TensorFlow, and the question comes up where TensorFlow may be missing."""
    return any(cls.__name__ == "OpenAIGPTTokenizer" for cls in type(tokenizer).__mro__)


def __getattr__(name):
    # GPT-1's own tokenizer is built of TensorFlow Text ops: imported on use.
    if name == "OpenAIGPTTokenizer":
        from keras_gpt1.tokenizers.openai_gpt_tokenizer import OpenAIGPTTokenizer

        return OpenAIGPTTokenizer
    raise AttributeError(f"module 'keras_gpt1.tokenizers' has no attribute {name!r}")
