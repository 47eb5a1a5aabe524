"""The decoder over an explicit KV cache, written for LiteRT's CPU kernels
(export only: the model's own layers are `layers/causal_self_attention.py`
and `layers/decoder_block.py`, and this file computes what they compute).

Why a second form: the converter lowers the layer's
`einsum("bqhd,bkhd->bhqk")` over a `(1, max_length, heads, head_dim)`
cache to a `TRANSPOSE` of the whole cache and a `BATCH_MATMUL` whose
right-hand side XNNPACK re-packs on every call. For one query (`decode`)
that is most of a step's attention time (profile in docs/deployment.md,
"Where a decode step goes"). With one query the scores and the mix are
elementwise products and sums over the cache as it lies:

    scores  (1, T, H)    = sum_d  q (1, 1, H, D) * K (1, T, H, D)
    weights (1, T, H)    = softmax over T (scores + mask bias)
    output  (1, 1, H, D) = sum_t  weights[..., None] * V (1, T, H, D)

`MUL`, `SUM`, `ADD` and `SOFTMAX` all run in XNNPACK, and nothing copies
the cache. Several queries (`prefill`) keep the einsum form, where the
transpose is paid once per chunk and the matmuls are real matmuls.

The mask is an additive bias `(T,)` (0 where a key position is at most the
query position, `MASKED_SCORE` elsewhere), built once per call and shared
by the blocks: a `SELECT` (which XNNPACK does not take) over `T` numbers
instead of one over the scores of every block. A masked score becomes
`score - 1e9`, whose exponential is 0 in float32, as with the layer's
`where`.

The cache layout, tensor names and in-place `DYNAMIC_UPDATE_SLICE` are the
layer's, so LiteRT-LM runs the file unchanged.
"""

import math

import tensorflow as tf
from keras import ops

from keras_gpt1.layers.causal_self_attention import MASKED_SCORE
from keras_gpt1.layers.decoder_block import gelu

# `cache_attention` values of `CausalLMLiteRTModule`: the model's own
# layers (`backbone.call_with_cache`), or this file's forms.
KERAS_ATTENTION = "keras"
LITERT_ATTENTION = "litert"
CACHE_ATTENTIONS = (KERAS_ATTENTION, LITERT_ATTENTION)


def mask_bias(query_start, num_queries, max_length):
    """Float32 `(num_queries, max_length)`: 0 where key position <= query
    position (`query_start + i` for row `i`), `MASKED_SCORE` elsewhere."""
    queries = tf.range(num_queries, dtype=tf.int32) + tf.cast(query_start, tf.int32)
    keys = tf.range(max_length, dtype=tf.int32)
    allowed = keys[tf.newaxis, :] <= queries[:, tf.newaxis]
    return tf.where(allowed, 0.0, MASKED_SCORE)


def attend_one_query(query, key_cache, value_cache, bias):
    """One query over the cache, elementwise.

    query `(1, 1, H, D)` (already scaled by `1 / sqrt(D)`), caches `(1, T,
    H, D)`, bias `(1, T)` -> `(1, 1, H, D)`.
    """
    scores = tf.reduce_sum(query * key_cache, axis=-1)          # (1, T, H)
    scores = scores + tf.reshape(bias, (1, -1, 1))
    weights = tf.nn.softmax(scores, axis=1)                     # over T
    output = tf.reduce_sum(weights[..., tf.newaxis] * value_cache, axis=1)
    return output[:, tf.newaxis]                                # (1, 1, H, D)


def attend_queries(query, key_cache, value_cache, bias):
    """Several queries over the cache, as the layer computes them.

    query `(1, n, H, D)` (scaled), caches `(1, T, H, D)`, bias `(n, T)` ->
    `(1, n, H, D)`.
    """
    scores = tf.einsum("bqhd,bkhd->bhqk", query, key_cache) + bias
    weights = tf.nn.softmax(scores, axis=-1)
    return tf.einsum("bhqk,bkhd->bqhd", weights, value_cache)


def block_with_cache(block, x, cache, start, bias):
    """One `GPT1DecoderBlock` over `x (1, n, hidden)` at position `start`,
    with its weights and this file's attention -> `(output (1, n, hidden),
    (key_cache, value_cache))`."""
    attention = block.attn
    num_queries = x.shape[1]
    heads, head_dim = attention.num_heads, attention.head_dim
    query, key, value = tf.split(attention.c_attn(x), 3, axis=-1)
    split = (1, num_queries, heads, head_dim)
    query = tf.reshape(query, split) * (1.0 / math.sqrt(head_dim))
    key_cache, value_cache = cache
    at = [0, start, 0, 0]
    key_cache = ops.slice_update(
        key_cache, at, tf.cast(tf.reshape(key, split), key_cache.dtype))
    value_cache = ops.slice_update(
        value_cache, at, tf.cast(tf.reshape(value, split), value_cache.dtype))
    if num_queries == 1:
        mixed = attend_one_query(query, key_cache, value_cache, bias)
    else:
        mixed = attend_queries(query, key_cache, value_cache, bias)
    attended = attention.c_proj(tf.reshape(mixed, (1, num_queries, heads * head_dim)))
    h = block.ln_1(x + attended)
    output = block.ln_2(h + block.c_proj(gelu(block.c_fc(h))))
    return output, (key_cache, value_cache)


def backbone_with_cache(backbone, token_ids, cache, start):
    """`backbone.call_with_cache` with this file's attention: `token_ids (1,
    n)` at position `start`, `cache` a `(key, value)` pair per block, each
    `(1, max_length, heads, head_dim)` -> `(hidden (1, n, hidden_dim),
    updated cache)`."""
    x = backbone.embed(token_ids, start_index=start)
    num_queries = token_ids.shape[1]
    bias = mask_bias(start, num_queries, cache[0][0].shape[1])
    new_cache = []
    for block, layer_cache in zip(backbone.transformer_layers, cache):
        x, layer_cache = block_with_cache(block, x, layer_cache, start, bias)
        new_cache.append(layer_cache)
    return x, tuple(new_cache)
