"""Keras layers of GPT-1, written here (embeddings come from keras-hub)."""

from keras_gpt1.layers.causal_self_attention import CausalSelfAttention
from keras_gpt1.layers.causal_self_attention import causal_mask
from keras_gpt1.layers.decoder_block import GPT1DecoderBlock

__all__ = ["CausalSelfAttention", "GPT1DecoderBlock", "causal_mask"]
