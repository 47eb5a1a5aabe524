"""Open a `.tflite` file with the LiteRT Python runtime (`ai-edge-litert`),
or TensorFlow's `tf.lite.Interpreter` where that is not installed."""

from keras_gpt1.errors import GPT1InputError


def interpreter_class():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # TensorFlow's copy, scheduled for deletion
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    return Interpreter


def make_interpreter(path, num_threads=None):
    """An interpreter of the `.tflite` file at `path` (tensors allocated)."""
    try:
        interpreter = interpreter_class()(model_path=path, num_threads=num_threads)
    except (ValueError, RuntimeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise GPT1InputError(f"could not load {path}: {first}") from None
    interpreter.allocate_tensors()
    return interpreter
