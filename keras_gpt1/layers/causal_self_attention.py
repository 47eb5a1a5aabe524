"""Causal masked multi-head self-attention with a fused QKV projection."""

import math

import keras
from keras import ops

# Score of masked positions before the softmax (float32), set with `where`
# rather than added as a bias, so a masked score is exactly this value
# whatever the raw score. (An earlier, unscripted measurement had found an
# added bias much slower on CPU without XLA; `benchmarks/masked_softmax.py`
# times both and found them within 20% of each other on the machine in
# benchmarks/results/masked_softmax.json.)
MASKED_SCORE = -1e9


def causal_mask(query_length, key_length, query_start=0):
    """Int32 mask `(query_length, key_length)`: 1 where key pos <= query pos.

    `query_start` is the absolute position of the first query (the cache
    update index when decoding), so row `i` is query position
    `query_start + i`. This is the causal mask of the paper's decoder.
    """
    query_positions = ops.arange(query_length, dtype="int32") + ops.cast(
        query_start, "int32"
    )
    key_positions = ops.arange(key_length, dtype="int32")
    return ops.cast(
        ops.greater_equal(
            ops.expand_dims(query_positions, 1),
            ops.expand_dims(key_positions, 0),
        ),
        "int32",
    )


@keras.saving.register_keras_serializable(package="keras_gpt1")
class CausalSelfAttention(keras.layers.Layer):
    """Multi-head self-attention that only looks left (GPT-1's `attn`).

    One fused projection `c_attn` maps `hidden_dim -> 3 * hidden_dim`
    (queries, keys, values); scores are scaled by `1 / sqrt(head_dim)`,
    masked causally (and by an optional padding mask), softmaxed in float32,
    dropped out, and mixed back through `c_proj`.

    Wherever no attention dropout applies (inference, or `dropout=0`) and
    no cache is given, the same attention runs as one
    `keras.ops.dot_product_attention` call: cuDNN / flash kernels on GPUs,
    the fused TPU kernels, XLA elsewhere (tested equal, forward and
    gradients, on every backend). A training batch without padding takes
    its `is_causal=True` form; a padded batch an explicit mask in which a
    padding query may attend to anything (its output is never read), so no
    row is empty.

    Call args:
        x: `(batch, seq_len, hidden_dim)`.
        padding_mask: optional int `(batch, seq_len)` (or `(batch, key_len)`
            when a cache is used), 1 for real tokens, 0 for padding.
        cache: optional `(key_cache, value_cache)`, each `(batch,
            max_length, num_heads, head_dim)`: keys and values of earlier
            positions. Two buffers, not one stacked tensor: each is updated
            in place and read whole, so a decode step copies no cache.
        cache_update_index: int, position of `x[:, 0]` in the cache.

    Returns `(batch, seq_len, hidden_dim)`, plus the updated cache when a
    cache was given.
    """

    # Set False on an instance to always take the step-by-step path (to
    # compare the two, or to read what the fused kernel computes).
    fused = True

    def __init__(
        self,
        num_heads,
        dropout=0.0,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.dropout = dropout
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.attention_dropout = keras.layers.Dropout(
            dropout, dtype=self.dtype_policy
        )

    def build(self, input_shape):
        hidden_dim = input_shape[-1]
        if hidden_dim % self.num_heads:
            raise ValueError(
                f"hidden_dim={hidden_dim} is not divisible by "
                f"num_heads={self.num_heads}."
            )
        self.hidden_dim = hidden_dim
        self.head_dim = hidden_dim // self.num_heads
        self.c_attn = keras.layers.Dense(
            3 * hidden_dim,
            kernel_initializer=self.kernel_initializer,
            dtype=self.dtype_policy,
            name="c_attn",
        )
        self.c_attn.build(input_shape)
        self.c_proj = keras.layers.Dense(
            hidden_dim,
            kernel_initializer=self.kernel_initializer,
            dtype=self.dtype_policy,
            name="c_proj",
        )
        self.c_proj.build(input_shape)
        self.built = True

    def _split_heads(self, x):
        # (batch, seq, hidden) -> (batch, seq, heads, head_dim)
        shape = ops.shape(x)
        return ops.reshape(
            x, (shape[0], shape[1], self.num_heads, self.head_dim)
        )

    def _scores_and_mask(self, query, key, query_start=0, padding_mask=None):
        """Scaled scores `(batch, heads, q_len, k_len)` in float32 and the
        int32 mask (1 = may attend) that broadcasts against them."""
        scores = ops.einsum("bqhd,bkhd->bhqk", query, key)
        scores = ops.cast(scores, "float32") * (1.0 / math.sqrt(self.head_dim))
        key_length = ops.shape(key)[1]
        mask = causal_mask(ops.shape(query)[1], key_length, query_start)
        mask = ops.expand_dims(ops.expand_dims(mask, 0), 0)
        if padding_mask is not None:
            key_mask = ops.cast(padding_mask, "int32")[:, :key_length]
            key_mask = ops.expand_dims(ops.expand_dims(key_mask, 1), 1)
            mask = mask * key_mask
        return scores, mask

    def attention_maps(self, x):
        """What attention computes, step by step, for pictures and tests.

        Returns a dict of `(batch, heads, seq_len, seq_len)` float32 arrays:
        `scores` (`q·kᵀ / sqrt(head_dim)`), `masked` (future positions set to
        -inf) and `weights` (the softmax: each row sums to 1).
        """
        query, key, _ = ops.split(self.c_attn(x), 3, axis=-1)
        scores, mask = self._scores_and_mask(
            self._split_heads(query), self._split_heads(key)
        )
        masked = ops.where(ops.greater(mask, 0), scores, float("-inf"))
        return {
            "scores": scores,
            "masked": masked,
            "weights": ops.softmax(
                ops.where(ops.greater(mask, 0), scores, MASKED_SCORE), axis=-1
            ),
        }

    def call(
        self,
        x,
        padding_mask=None,
        cache=None,
        cache_update_index=None,
        training=None,
    ):
        qkv = self.c_attn(x)
        query, key, value = ops.split(qkv, 3, axis=-1)
        query = self._split_heads(query)
        key = self._split_heads(key)
        value = self._split_heads(value)

        if self.fused and cache is None and (not training or self.dropout == 0):
            output = self._fused_attention(query, key, value, padding_mask, training)
            output = ops.reshape(
                output, (ops.shape(output)[0], ops.shape(query)[1], self.hidden_dim))
            return self.c_proj(output)

        query_start = 0
        if cache is not None:
            # Write this step's keys/values at `cache_update_index` and
            # attend over the whole cache; the causal mask hides the rest.
            query_start = cache_update_index
            key_cache, value_cache = cache
            start = [0, cache_update_index, 0, 0]
            key = ops.slice_update(key_cache, start, ops.cast(key, key_cache.dtype))
            value = ops.slice_update(value_cache, start, ops.cast(value, value_cache.dtype))
            cache = (key, value)

        scores, mask = self._scores_and_mask(query, key, query_start, padding_mask)
        # The int mask becomes a condition here only; masks that cross layer
        # boundaries stay int32.
        scores = ops.where(ops.greater(mask, 0), scores, MASKED_SCORE)
        weights = ops.softmax(scores, axis=-1)
        weights = ops.cast(weights, self.compute_dtype)
        query_length = ops.shape(query)[1]
        weights = self.attention_dropout(weights, training=training)

        output = ops.einsum("bhqk,bkhd->bqhd", weights, value)
        output = ops.reshape(
            output, (ops.shape(output)[0], query_length, self.hidden_dim)
        )
        output = self.c_proj(output)
        if cache is not None:
            return output, cache
        return output

    def _fused_attention(self, query, key, value, padding_mask, training):
        """`(batch, seq, heads, head_dim)` through `ops.dot_product_attention`.

        Training on JAX and torch picks at run time between the causal-only
        form (batches without padding: the flash kernels' fastest) and the
        masked one. Inference with a padding mask takes the masked form
        directly, so exported graphs hold no control flow, and so does
        TensorFlow in training: its `dot_product_attention` has no fused
        kernel (both forms are the same masked softmax there), and XLA
        cannot compile the gradient of a `cond` whose batch size varies."""
        scale = 1.0 / math.sqrt(self.head_dim)

        def causal_only():
            return ops.dot_product_attention(query, key, value, scale=scale,
                                             is_causal=True)

        if padding_mask is None:
            return causal_only()
        real = ops.greater(ops.cast(padding_mask, "int32"), 0)  # (batch, seq)

        def padded():
            # expand_dims, not `x[:, None]`: the latter exports to LiteRT as a
            # Flex StridedSlice.
            length = ops.shape(query)[1]
            causal = ops.expand_dims(ops.greater(causal_mask(length, length), 0), 0)
            causal = ops.expand_dims(causal, 0)  # (1, 1, query, key)
            key_real = ops.expand_dims(ops.expand_dims(real, 1), 1)  # (batch, 1, 1, key)
            query_pad = ops.expand_dims(ops.expand_dims(ops.logical_not(real), 1), 3)
            mask = ops.logical_and(causal, ops.logical_or(key_real, query_pad))
            return ops.dot_product_attention(query, key, value, scale=scale, mask=mask)

        if not training or keras.config.backend() == "tensorflow":
            return padded()
        return ops.cond(ops.all(real), causal_only, padded)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "dropout": self.dropout,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
            }
        )
        return config
