"""tf.data pipelines (TensorFlow-specific)."""
