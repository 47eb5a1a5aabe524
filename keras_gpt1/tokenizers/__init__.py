"""Tokenizers (TF ops; safe inside tf.data and exported SavedModels):
the project's byte-level BPE, and GPT-1's original lower-cased `</w>` BPE
(for imported OpenAI weights)."""

from keras_gpt1.tokenizers.bpe_training import check_text_files
from keras_gpt1.tokenizers.bpe_training import train_bpe
from keras_gpt1.tokenizers.gpt1_tokenizer import GPT1Tokenizer
from keras_gpt1.tokenizers.openai_gpt_tokenizer import OpenAIGPTTokenizer

__all__ = ["GPT1Tokenizer", "OpenAIGPTTokenizer", "check_text_files", "train_bpe"]
