"""Keep XLA-only ops out of SavedModels meant for TF Serving.

Keras's TensorFlow backend implements `ops.slice_update` (how the KV cache
is written) with `XlaDynamicUpdateSlice`, an op that only runs through the
XLA compiler: TF Serving GPU has none and fails with "Could not find
compiler for platform CUDA". While the serving graphs are traced,
`serving_ops()` swaps it for TensorFlow's own `TensorStridedSliceUpdate`,
which has ordinary CPU and GPU kernels. (The LiteRT export keeps the XLA
op: the converter lowers it to the builtin `DYNAMIC_UPDATE_SLICE`.)
"""

import contextlib

import tensorflow as tf


def strided_slice_update(inputs, start_indices, updates):
    """`inputs` with `updates` written at `start_indices` (one index per
    axis; the update must fit, as it always does for the KV cache)."""
    updates = tf.convert_to_tensor(updates, dtype=inputs.dtype)
    begin = tf.stack([tf.cast(i, tf.int32) for i in start_indices])
    end = begin + tf.shape(updates, out_type=tf.int32)
    strides = tf.ones_like(begin)
    return tf.raw_ops.TensorStridedSliceUpdate(
        input=inputs, begin=begin, end=end, strides=strides, value=updates
    )


@contextlib.contextmanager
def serving_ops():
    """Trace Keras ops with TF Serving-portable kernels inside this block."""
    from keras.src.backend.tensorflow import core

    original = core.slice_update
    core.slice_update = strided_slice_update
    try:
        yield
    finally:
        core.slice_update = original
