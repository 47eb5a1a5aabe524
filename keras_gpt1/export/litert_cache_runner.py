"""Run the `prefill` / `decode` signatures of a causal-LM `.tflite` with its
KV cache: the two ways LiteRT's Python runtime offers.

- `CompiledModelRunner` (`ai_edge_litert.compiled_model`, the default):
  every `kv_cache_*` tensor is one runtime buffer bound as both the input
  and the output of the signature, so `DYNAMIC_UPDATE_SLICE` writes one
  position in place and nothing crosses into Python but the token, the
  position and the logits. This is what LiteRT-LM does on CPU. The cache is
  a `RuntimeCache`: reading an entry copies it out.
- `InterpreterRunner` (`ai_edge_litert.interpreter`, or `tf.lite`): the
  signature runner of the classic interpreter; caches are NumPy arrays
  copied in and out of every call (37.7 MB per GPT-1 step at 512 slots;
  the kernel copies them once more because input and output differ).

Both return the same logits (tested); `LiteRTCausalLM` picks the first.

    runner = CompiledModelRunner("model.tflite", cache_shape, cache_names)
    cache = runner.initial_cache()
    logits, cache = runner.run("decode", tokens (1, 1), input_pos (1,), cache)
"""

import numpy as np

from keras_gpt1.errors import GPT1InputError
from keras_gpt1.errors import first_line
from keras_gpt1.export.signatures import INPUT_POS
from keras_gpt1.export.signatures import LOGITS
from keras_gpt1.export.signatures import TOKENS

COMPILED_MODEL = "compiled_model"
INTERPRETER = "interpreter"
RUNTIMES = (COMPILED_MODEL, INTERPRETER)


def interpreter_class():
    """LiteRT's Python interpreter (`ai-edge-litert`), or TensorFlow's
    `tf.lite.Interpreter` where that is not installed."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # TensorFlow's copy, scheduled for deletion
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    return Interpreter


def make_interpreter(model, num_threads=None):
    """An interpreter of `model` (a `.tflite` path or its bytes), tensors
    allocated."""
    source = {"model_content": model} if isinstance(model, bytes) else {"model_path": model}
    try:
        interpreter = interpreter_class()(**source, num_threads=num_threads)
    except (ValueError, RuntimeError) as e:
        raise GPT1InputError(f"could not load {_name(model)}: {first_line(e)}") from None
    interpreter.allocate_tensors()
    return interpreter


def compiled_model_available():
    try:
        from ai_edge_litert.compiled_model import CompiledModel  # noqa: F401
    except ImportError:
        return False
    return True


def _name(model):
    return "the model" if isinstance(model, bytes) else model


class RuntimeCache:
    """A KV cache held by a `CompiledModelRunner`: `{kv_cache_*: TensorBuffer}`
    updated in place by every call it is passed to. As a mapping it reads
    like the interpreter's cache: `cache[name]` is a float32 copy of shape
    `cache_shape`."""

    def __init__(self, runner, buffers, shape):
        self.runner = runner
        self.buffers = buffers
        self.shape = tuple(shape)

    def __getitem__(self, name):
        size = int(np.prod(self.shape))
        return self.buffers[name].read(size, np.float32).reshape(self.shape)

    def __iter__(self):
        return iter(self.buffers)

    def __len__(self):
        return len(self.buffers)

    def keys(self):
        return self.buffers.keys()

    def items(self):
        return [(name, self[name]) for name in self.buffers]


class CompiledModelRunner:
    """The signatures through `CompiledModel`, caches in place.

    Args:
        model: a `.tflite` path or its bytes.
        cache_shape: `(1, max_length, heads, head_dim)`.
        cache_names: the `kv_cache_*` tensor names.
        num_threads: CPU threads (default: the runtime's).
    """

    runtime = COMPILED_MODEL

    def __init__(self, model, cache_shape, cache_names, num_threads=None):
        from keras_gpt1._native_logs import quiet_native_logs

        self.cache_shape = tuple(cache_shape)
        self.cache_names = list(cache_names)
        self._model_bytes = model if isinstance(model, bytes) else None  # kept alive
        try:
            with quiet_native_logs():  # the runtime's start-up lines
                from ai_edge_litert.compiled_model import CompiledModel
                from ai_edge_litert.hardware_accelerator import HardwareAccelerator
                from ai_edge_litert.options import CpuOptions
                from ai_edge_litert.options import Options

                options = Options(HardwareAccelerator.CPU,
                                  cpu_options=CpuOptions(num_threads=num_threads or 0))
                if isinstance(model, bytes):
                    self.model = CompiledModel.from_buffer(model, options=options)
                else:
                    self.model = CompiledModel.from_file(model, options=options)
        except (ValueError, RuntimeError) as e:
            raise GPT1InputError(f"could not load {_name(model)}: {first_line(e)}") from None
        self._io = {}  # signature -> (tokens, input_pos, logits) buffers
        self._logits_size = None

    def signatures(self):
        return list(self.model.get_signature_list())

    def close(self):
        """Release the compiled model and its buffers now (the runtime's
        shutdown lines stay hidden); caches made by this runner die with it."""
        import gc

        from keras_gpt1._native_logs import quiet_native_logs

        with quiet_native_logs():
            self._io.clear()
            self.model = None
            gc.collect()

    def _signature_io(self, signature):
        if signature not in self._io:
            model = self.model
            logits = model.create_output_buffer_by_name(signature, LOGITS)
            self._io[signature] = (model.create_input_buffer_by_name(signature, TOKENS),
                                   model.create_input_buffer_by_name(signature, INPUT_POS),
                                   logits)
            shape = model.get_output_tensor_details(signature)[LOGITS]["shape"]
            self._logits_size = int(np.prod(shape))
        return self._io[signature]

    def initial_cache(self):
        """Zero caches, as runtime buffers (`RuntimeCache`)."""
        signature = self.signatures()[0]
        zeros = np.zeros(self.cache_shape, "float32")
        buffers = {}
        for name in self.cache_names:
            buffers[name] = self.model.create_input_buffer_by_name(signature, name)
            buffers[name].write(zeros)
        return RuntimeCache(self, buffers, self.cache_shape)

    def own_cache(self, cache):
        """`cache` itself when this runner made it; else a `RuntimeCache`
        holding a copy of its arrays."""
        if isinstance(cache, RuntimeCache) and cache.runner is self:
            return cache
        owned = self.initial_cache()
        for name in self.cache_names:
            owned.buffers[name].write(
                np.ascontiguousarray(cache[name], dtype="float32"))
        return owned

    def run(self, signature, tokens, input_pos, cache):
        """`tokens (1, n)`, `input_pos (n,)` int32 -> `(logits (vocab,) float32,
        cache)`; the cache returned is the one given, updated in place (or
        a runtime copy of a plain dict of arrays, then updated)."""
        cache = self.own_cache(cache)
        token_buffer, position_buffer, logits_buffer = self._signature_io(signature)
        token_buffer.write(np.asarray(tokens, "int32"))
        position_buffer.write(np.asarray(input_pos, "int32"))
        self.model.run_by_name(signature, {TOKENS: token_buffer,
                                           INPUT_POS: position_buffer, **cache.buffers},
                               {LOGITS: logits_buffer, **cache.buffers})
        return logits_buffer.read(self._logits_size, np.float32), cache


class InterpreterRunner:
    """The signatures through the interpreter's signature runners; caches
    are dicts of NumPy arrays, a new dict per call."""

    runtime = INTERPRETER

    def __init__(self, model, cache_shape, cache_names, num_threads=None):
        self.cache_shape = tuple(cache_shape)
        self.cache_names = list(cache_names)
        self.interpreter = make_interpreter(model, num_threads)
        self._runners = {}

    def signatures(self):
        return list(self.interpreter.get_signature_list())

    def close(self):
        self.interpreter = None

    def initial_cache(self):
        return {name: np.zeros(self.cache_shape, "float32") for name in self.cache_names}

    def run(self, signature, tokens, input_pos, cache):
        if signature not in self._runners:
            self._runners[signature] = self.interpreter.get_signature_runner(signature)
        outputs = self._runners[signature](
            **{TOKENS: np.asarray(tokens, "int32"), INPUT_POS: np.asarray(input_pos, "int32")},
            **{name: cache[name] for name in self.cache_names})
        logits = outputs.pop(LOGITS)
        return logits.reshape(-1), outputs


def cache_runner(model, cache_shape, cache_names, num_threads=None, runtime=None):
    """The runner of `runtime` (`RUNTIMES`; default: `compiled_model` where
    `ai_edge_litert` has it, else `interpreter`)."""
    if runtime is None:
        runtime = COMPILED_MODEL if compiled_model_available() else INTERPRETER
    if runtime not in RUNTIMES:
        raise GPT1InputError(f"unknown LiteRT runtime '{runtime}'; choose one of "
                             f"{', '.join(RUNTIMES)}")
    kind = CompiledModelRunner if runtime == COMPILED_MODEL else InterpreterRunner
    return kind(model, cache_shape, cache_names, num_threads)
