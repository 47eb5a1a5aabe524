"""The paper's transformer decoder block, post-LayerNorm as in GPT-1's code."""

import keras
from keras import ops

from keras_gpt1.layers.causal_self_attention import CausalSelfAttention


def gelu(x):
    """GELU, tanh approximation (the form in GPT-1's `train.py`)."""
    return keras.activations.gelu(x, approximate=True)


@keras.saving.register_keras_serializable(package="keras_gpt1")
class GPT1DecoderBlock(keras.layers.Layer):
    """`h = LN1(x + attn(x))`, `out = LN2(h + mlp(h))` (GPT-1 `block`).

    `attn` is causal self-attention; `mlp` is `c_fc` (to
    `intermediate_dim`), GELU, `c_proj` (back to `hidden_dim`). Dropout
    (`resid_pdrop`) is applied to the output of `attn` and of `mlp` before
    each residual add, and `attention_dropout` (`attn_pdrop`; None: the
    same as `dropout`, as in the paper) to the attention weights.

    Call args:
        x: `(batch, seq_len, hidden_dim)`.
        padding_mask, cache, cache_update_index: see `CausalSelfAttention`.

    Returns `(batch, seq_len, hidden_dim)`, and the updated cache when given.
    """

    def __init__(
        self,
        num_heads,
        intermediate_dim,
        dropout=0.1,
        layer_norm_epsilon=1e-5,
        attention_dropout=None,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        hidden_dim = input_shape[-1]
        policy = self.dtype_policy
        init = self.kernel_initializer
        self.attn = CausalSelfAttention(
            self.num_heads,
            dropout=self.dropout if self.attention_dropout is None
            else self.attention_dropout,
            kernel_initializer=init,
            dtype=policy,
            name="attn",
        )
        self.attn.build(input_shape)
        self.ln_1 = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=policy, name="ln_1"
        )
        self.ln_1.build(input_shape)
        self.c_fc = keras.layers.Dense(
            self.intermediate_dim,
            kernel_initializer=init,
            dtype=policy,
            name="c_fc",
        )
        self.c_fc.build(input_shape)
        self.c_proj = keras.layers.Dense(
            hidden_dim, kernel_initializer=init, dtype=policy, name="c_proj"
        )
        self.c_proj.build(tuple(input_shape[:-1]) + (self.intermediate_dim,))
        self.ln_2 = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=policy, name="ln_2"
        )
        self.ln_2.build(input_shape)
        self.attn_output_dropout = keras.layers.Dropout(
            self.dropout, dtype=policy
        )
        self.mlp_output_dropout = keras.layers.Dropout(
            self.dropout, dtype=policy
        )
        self.built = True

    def call(
        self,
        x,
        padding_mask=None,
        cache=None,
        cache_update_index=None,
        training=None,
    ):
        attended = self.attn(
            x,
            padding_mask=padding_mask,
            cache=cache,
            cache_update_index=cache_update_index,
            training=training,
        )
        if cache is not None:
            attended, cache = attended
        attended = self.attn_output_dropout(attended, training=training)
        h = self.ln_1(ops.add(x, attended))

        m = self.c_proj(gelu(self.c_fc(h)))
        m = self.mlp_output_dropout(m, training=training)
        output = self.ln_2(ops.add(h, m))
        if cache is not None:
            return output, cache
        return output

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "dropout": self.dropout,
                "attention_dropout": self.attention_dropout,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
            }
        )
        return config
