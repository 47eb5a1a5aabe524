"""GPT-1 language model: backbone + LM head tied to the token embedding,
as a keras-hub `CausalLM` (samplers, `generate`, presets, `fit` on text),
with a KV cache of two buffers per block."""

import contextlib

import keras
import keras_hub
import numpy as np
from keras import ops

# Names the CLI offers; `generate` and `compile` also take any other
# keras-hub sampler name ("beam", "contrastive", "random") or object.
from keras_gpt1.choices import DEFAULT_SAMPLER
from keras_gpt1.choices import KERAS_HUB_SAMPLERS
from keras_gpt1.choices import SAMPLERS  # noqa: F401
from keras_gpt1.errors import GPT1InputError
from keras_gpt1.keras_internals import internal
from keras_gpt1.models.gpt1_backbone import PADDING_MASK
from keras_gpt1.models.gpt1_backbone import TOKEN_IDS
from keras_gpt1.models.gpt1_backbone import GPT1Backbone
from keras_gpt1.models.gpt1_backbone import backbone_inputs
from keras_gpt1.models.gpt1_causal_lm_preprocessor import GPT1CausalLMPreprocessor
from keras_gpt1.models.gpt1_presets import GPT1_PRESETS
from keras_gpt1.models.gpt1_presets import preset_loader
from keras_gpt1.models.gpt1_presets import saved_dtype
from keras_gpt1.optimizers import pretraining_optimizer
from keras_gpt1.optimizers import with_schedule_length
from keras_gpt1.token_ids import detokenize_text
from keras_gpt1.token_ids import token_id_lists


def right_aligned(token_ids, padding_mask):
    """Rows with their padding moved to the right: each row is rolled left
    by its number of leading pads (rows without left padding unchanged)."""
    length = ops.shape(token_ids)[1]
    leading = ops.argmax(ops.cast(padding_mask, "int32"), axis=1)
    index = (ops.arange(length)[None, :] + ops.cast(leading, "int32")[:, None]) % length
    return (ops.take_along_axis(token_ids, index, axis=1),
            ops.take_along_axis(padding_mask, index, axis=1))


@keras.saving.register_keras_serializable(package="keras_gpt1")
class GPT1CausalLM(keras_hub.models.CausalLM):
    """Next-token model: `{"token_ids", "padding_mask"}` (or bare ids)
    `(batch, seq_len)` -> logits `(batch, seq_len, vocabulary_size)`,
    float32.

    The output projection is the transposed token embedding (weight tying,
    as in the paper). With a `preprocessor` (or a `tokenizer`, which gets
    the default `GPT1CausalLMPreprocessor`), the model trains on raw
    strings (`fit(["some text", ...])`) and `generate` takes and returns
    strings; both travel inside the `.keras` file and the preset. A
    tokenizer given as the second argument gets the default preprocessor.

    `generate` runs the whole decoding loop as one compiled graph (XLA on
    TensorFlow, `jax.jit` on JAX) over the KV cache, with the sampler set by
    `compile(sampler=...)` (default "greedy") or given to the call.

    Example:
    ```python
    lm = GPT1CausalLM.from_preset("./my_preset")         # or "tiny": random
    lm.generate("The cat", max_length=32)
    lm.compile(sampler="top_p")
    lm.generate(["The cat", "A dog"], max_new_tokens=16, strip_prompt=True)
    lm.generate([np.array([5, 6, 7])], max_new_tokens=8)  # ids in, ids out
    ```
    """

    backbone_cls = GPT1Backbone
    preprocessor_cls = GPT1CausalLMPreprocessor

    def __init__(self, backbone, preprocessor=None, tokenizer=None, **kwargs):
        if isinstance(preprocessor, keras_hub.tokenizers.Tokenizer):
            # `GPT1CausalLM(backbone, tokenizer)`, as before keras-hub.
            preprocessor, tokenizer = tokenizer, preprocessor
        if tokenizer is not None:
            if preprocessor is not None:
                raise GPT1InputError("give a preprocessor or a tokenizer, not both")
            preprocessor = GPT1CausalLMPreprocessor(
                tokenizer, sequence_length=backbone.max_sequence_length
            )
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        # === Functional model ===
        inputs = backbone.input
        hidden = backbone(inputs)
        logits = backbone.token_embedding(hidden, reverse=True)
        # Logits (and so losses) stay float32 under mixed precision.
        logits = keras.layers.Activation(
            "linear", dtype="float32", name="logits"
        )(logits)
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        self._jit_compile_generate = True
        self._generate_functions = {}

    # Bare ids are accepted as well as the dict (`backbone_inputs`), by
    # `__call__` (TensorFlow, torch) and `call` (JAX's `stateless_call`).
    def __call__(self, inputs, *args, **kwargs):
        return super().__call__(backbone_inputs(inputs), *args, **kwargs)

    def call(self, inputs, training=None, mask=None):
        # `training` by name: Keras passes it only to a `call` that names it.
        return super().call(backbone_inputs(inputs), training=training, mask=mask)

    @classmethod
    def from_config(cls, config):
        # `.keras` files written before the keras-hub classes hold a
        # `tokenizer` instead of a `preprocessor`.
        if isinstance(config.get("tokenizer"), dict):
            config = {**config,
                      "tokenizer": keras.layers.deserialize(config["tokenizer"])}
        return super().from_config(config)

    @property
    def tokenizer(self):
        """The preprocessor's tokenizer, or None."""
        return None if self.preprocessor is None else self.preprocessor.tokenizer

    @property
    def jit_compile_generate(self):
        """Whether `generate` is XLA-compiled on TensorFlow (default on)."""
        return self._jit_compile_generate

    @jit_compile_generate.setter
    def jit_compile_generate(self, value):
        self._jit_compile_generate = bool(value)
        self.generate_function = None
        self._generate_functions.clear()

    # === Training defaults ===
    def compile(self, optimizer="auto", loss="auto", *, weighted_metrics="auto",
                sampler=DEFAULT_SAMPLER, **kwargs):
        """Defaults: the paper's pre-training recipe
        (`keras_gpt1.optimizers.pretraining_optimizer`: `GPT1AdamW` at
        2.5e-4, warmup over 2,000 steps or a tenth of the run, cosine to 0
        at the last step of the next `fit`, decay 0.01 on weight matrices
        only, global-norm clipping at 1), next-token cross-entropy,
        perplexity over real tokens, greedy generation (keras-hub's default
        sampler is "top_k"; greedy is this project's, as in
        `keras-gpt1 generate`)."""
        from keras_hub.metrics import Perplexity

        if optimizer == "auto":
            optimizer = pretraining_optimizer()
        if weighted_metrics == "auto":
            weighted_metrics = [Perplexity(from_logits=True, name="perplexity")]
        super().compile(optimizer=optimizer, loss=loss,
                        weighted_metrics=weighted_metrics,
                        sampler=resolve_sampler(sampler), **kwargs)
        self._generate_functions = {}

    def fit(self, x=None, y=None, **kwargs):
        """keras-hub's `fit` (text goes through the preprocessor); token
        ids (arrays, a dict of arrays, a `keras.utils.PyDataset`) go
        straight to `keras.Model.fit`, which needs no tf.data or Grain (a
        JAX or PyTorch machine without TensorFlow). A default `compile()`
        schedule decays to 0 at this fit's last step."""
        kwargs["callbacks"] = with_schedule_length(
            self.optimizer, kwargs.get("callbacks"), kwargs.get("initial_epoch", 0))
        if self.preprocessor is None or holds_token_ids(x):
            return keras.Model.fit(self, x, y, **kwargs)
        return super().fit(x, y, **kwargs)

    def evaluate(self, x=None, y=None, **kwargs):
        """As `fit`: token ids go straight to `keras.Model.evaluate`."""
        if self.preprocessor is None or holds_token_ids(x):
            return keras.Model.evaluate(self, x, y, **kwargs)
        return super().evaluate(x, y, **kwargs)

    def predict(self, x=None, **kwargs):
        """As `fit`: token ids go straight to `keras.Model.predict`."""
        if self.preprocessor is None or holds_token_ids(x):
            return keras.Model.predict(self, x, **kwargs)
        return super().predict(x, **kwargs)

    def compile_from_config(self, config):
        """Recompile a loaded model as it was saved (`keras.saving.load_model`).
        The optimizer builds on the first training step; a `GPT1AdamW`
        takes the saved moments then (`GPT1AdamW.load_own_variables`)."""
        self.compile(**keras.saving.deserialize_keras_object(config))

    # === KV-cache decoding ===
    def initial_cache(self, batch_size, max_length):
        """Zero caches: per block a `(keys, values)` pair, each `(batch,
        max_length, heads, head_dim)`."""
        return self.backbone.initial_cache(batch_size, max_length)

    def call_with_cache(self, token_ids, cache, cache_update_index):
        """Run `(batch, n)` new tokens at `cache_update_index`.

        Returns `(logits (batch, n, vocab) float32, hidden (batch, n,
        hidden_dim), cache)`. Equal to the logits of a full forward pass over
        the prefix, computed in O(n * max_length) instead of O(prefix^2).
        """
        hidden, cache = self.backbone.call_with_cache(
            token_ids, cache, cache_update_index
        )
        logits = self.backbone.token_embedding(hidden, reverse=True)
        return ops.cast(logits, "float32"), hidden, cache

    def _build_cache(self, token_ids):
        """Prefill: keys/values of every position of `(batch, max_length)`
        ids; those past a row's prompt are overwritten as it generates."""
        batch_size, max_length = ops.shape(token_ids)[0], ops.shape(token_ids)[1]
        cache = self.initial_cache(batch_size, max_length)
        # Hidden states only: no vocabulary projection of every position.
        return self.backbone.call_with_cache(token_ids, cache, 0)

    def generate_step(self, inputs, stop_token_ids=None):
        """One batch: `{"token_ids", "padding_mask"}` `(batch, max_length)`,
        the prompt marked by the mask (padding on either side) -> the same
        dict with each row's continuation written after its prompt
        (padding then on the right) and the mask covering prompt and
        continuation up to and including a stop token."""
        token_ids, padding_mask = right_aligned(
            inputs[TOKEN_IDS], ops.cast(inputs[PADDING_MASK], "int32")
        )
        hidden_states, cache = self._build_cache(token_ids)
        index = ops.min(ops.sum(padding_mask, axis=-1))

        def next(prompt, cache, index):
            batch_size = ops.shape(prompt)[0]
            last = ops.slice(prompt, [0, index - 1], [batch_size, 1])
            logits, hidden, cache = self.call_with_cache(last, cache, index - 1)
            return ops.squeeze(logits, 1), ops.squeeze(hidden, 1), cache

        token_ids = self.sampler(
            next=next,
            prompt=token_ids,
            cache=cache,
            index=index,
            mask=padding_mask,
            stop_token_ids=stop_token_ids,
            hidden_states=hidden_states,
            model=self,
        )
        if stop_token_ids is not None:
            # Keep everything up to and including each row's first stop.
            is_prompt = ops.cast(padding_mask, "bool")
            ends = ops.cast(
                internal("hub_any_equal")(token_ids, stop_token_ids, ops.logical_not(is_prompt)),
                "int32",
            )
            after_end = ops.cumsum(ends, axis=-1) - ends
            padding_mask = ops.logical_not(ops.cast(after_end, "bool"))
        else:
            padding_mask = ops.ones_like(token_ids, dtype="bool")
        return {TOKEN_IDS: token_ids, PADDING_MASK: padding_mask}

    def make_generate_function(self):
        """keras-hub's compiled loop, except that on TensorFlow XLA follows
        `jit_compile_generate` (keras leaves it off on a CPU)."""
        if self.generate_function is not None:
            return self.generate_function
        if keras.config.backend() == "tensorflow" and not self.run_eagerly:
            import tensorflow as tf

            self.generate_function = tf.function(
                self.generate_step, jit_compile=self.jit_compile_generate,
                reduce_retracing=True,
            )
            return self.generate_function
        return super().make_generate_function()

    @contextlib.contextmanager
    def _sampling_with(self, sampler):
        """Run `generate_function` with `sampler` (compiled once per
        sampler and kept)."""
        if sampler is None:
            self.make_generate_function()
            yield
            return
        key = sampler_key(sampler)
        saved = (self.sampler, self.generate_function)
        if key not in self._generate_functions:
            self.sampler, self.generate_function = sampler, None
            self._generate_functions[key] = (sampler, self.make_generate_function())
        self.sampler, self.generate_function = self._generate_functions[key]
        try:
            yield
        finally:
            self.sampler, self.generate_function = saved

    def generate(self, inputs, max_length=None, stop_token_ids="auto",
                 strip_prompt=False, max_new_tokens=None, sampler=None,
                 temperature=1.0, top_k=10, top_p=0.9, seed=None, stop_at_end=True):
        """Continue each prompt.

        Args:
            inputs: a string or list of strings (needs a tokenizer); int ids,
                one list/array per prompt; or a dict `{"token_ids",
                "padding_mask"}` of prompts already packed to the total
                length (padding on either side).
            max_length: total tokens per row (prompt + continuation);
                default the preprocessor's `sequence_length` (the context).
            max_new_tokens: or: tokens to add after the longest prompt.
            stop_token_ids: "auto" (the tokenizer's end token), None, or
                ids; a row stops after its first one. `stop_at_end=False`
                is the same as None.
            strip_prompt: return the continuations only.
            sampler: None (the one given to `compile`), a keras-hub sampler
                name, or a `keras_hub.samplers.Sampler`; `temperature`,
                `top_k`, `top_p` and `seed` configure the named "top_k" and
                "top_p" samplers.

        Returns strings for string input (the prompt followed by its
        continuation, without the stop token), a list of int32 arrays for
        ids, and a dict of arrays (rows padded on the right) for a dict.
        """
        stop_token_ids = self._stop_token_ids(stop_token_ids, stop_at_end)
        if sampler is not None:
            sampler = resolve_sampler(sampler, temperature, top_k, top_p, seed)
        if isinstance(inputs, dict):
            return self._generate_packed(inputs, stop_token_ids, strip_prompt, sampler)
        single = isinstance(inputs, str)
        rows, is_text = self._prompt_rows([inputs] if single else inputs)
        packed, lengths = self._pack(rows, max_length, max_new_tokens)
        with self._sampling_with(sampler):
            output = self.generate_function(packed, stop_token_ids=stop_token_ids)
        token_ids = ops.convert_to_numpy(output[TOKEN_IDS])
        results = []
        for row, length in zip(token_ids, lengths):
            end = packed[TOKEN_IDS].shape[1] if max_new_tokens is None else min(
                length + max_new_tokens, len(row))
            continuation = row[length:end]
            if stop_token_ids is not None:
                stops = np.nonzero(np.isin(continuation, stop_token_ids))[0]
                if stops.size:
                    continuation = continuation[: stops[0]]
            kept = continuation if strip_prompt else np.concatenate(
                [row[:length], continuation])
            results.append(kept.astype("int32"))
        if not is_text:
            return results
        texts = [detokenize_text(self.tokenizer, r) for r in results]
        return texts[0] if single else texts

    def _stop_token_ids(self, stop_token_ids, stop_at_end):
        if not stop_at_end or stop_token_ids is None:
            return None
        if isinstance(stop_token_ids, str):
            if stop_token_ids != "auto":
                raise GPT1InputError(
                    f"stop_token_ids must be 'auto', None or ids; got {stop_token_ids!r}"
                )
            end_id = getattr(self.tokenizer, "end_token_id", None)
            return None if end_id is None else (int(end_id),)
        return tuple(int(i) for i in stop_token_ids)

    def _prompt_rows(self, prompts):
        """`(list of int lists, whether the prompts were text)`."""
        prompts = list(prompts)
        if not prompts:
            raise GPT1InputError("no prompt given")
        is_text = isinstance(prompts[0], (str, bytes))
        if is_text:
            if self.tokenizer is None:
                raise GPT1InputError("text prompts need a model with a tokenizer")
            rows = token_id_lists(self.tokenizer, prompts)
        else:
            rows = [[int(i) for i in np.asarray(r).reshape(-1)] for r in prompts]
        if min(len(r) for r in rows) == 0:
            raise GPT1InputError("prompt is empty")
        return rows, is_text

    def _pack(self, rows, max_length, max_new_tokens):
        """Right-padded `{"token_ids", "padding_mask"}` int32 of the total
        length, checked; and each row's prompt length."""
        context = self.backbone.max_sequence_length
        longest = max(len(r) for r in rows)
        if longest >= context:
            raise GPT1InputError(
                f"prompt of {longest} tokens leaves no room in the context "
                f"of {context}"
            )
        if max_new_tokens is not None:
            if max_new_tokens < 1:
                raise GPT1InputError(
                    f"max_new_tokens must be >= 1; got {max_new_tokens}")
            total = min(longest + max_new_tokens, context)
        else:
            total = max_length or getattr(self.preprocessor, "sequence_length",
                                          None) or context
            if total > context:
                raise GPT1InputError(
                    f"max_length {total} is longer than the context of {context}")
            if longest >= total:
                raise GPT1InputError(
                    f"prompt of {longest} tokens leaves no room in max_length {total}")
        pad_id = int(getattr(self.tokenizer, "pad_token_id", 0) or 0)
        token_ids = np.full((len(rows), total), pad_id, dtype="int32")
        padding_mask = np.zeros((len(rows), total), dtype="int32")
        for i, r in enumerate(rows):
            token_ids[i, : len(r)] = r
            padding_mask[i, : len(r)] = 1
        self.backbone.check_token_ids(token_ids)
        return ({TOKEN_IDS: token_ids, PADDING_MASK: padding_mask},
                [len(r) for r in rows])

    def _generate_packed(self, inputs, stop_token_ids, strip_prompt, sampler):
        """`generate` on a dict of packed prompts -> a dict of arrays."""
        token_ids = np.asarray(inputs[TOKEN_IDS], "int32")
        padding_mask = np.asarray(
            inputs.get(PADDING_MASK, np.ones_like(token_ids)), "int32")
        self.backbone.check_token_ids(token_ids)
        packed = {TOKEN_IDS: token_ids, PADDING_MASK: padding_mask}
        with self._sampling_with(sampler):
            output = self.generate_function(packed, stop_token_ids=stop_token_ids)
        output = {k: ops.convert_to_numpy(v) for k, v in output.items()}
        if strip_prompt:
            lengths = padding_mask.sum(axis=1)
            positions = np.arange(token_ids.shape[1])[None, :]
            output[PADDING_MASK] = output[PADDING_MASK] & (positions >= lengths[:, None])
        return output

    def export_to_transformers(self, path):
        """Write a Hugging Face `openai-gpt` directory (config, safetensors,
        tokenizer) that `OpenAIGPTLMHeadModel.from_pretrained(path)` and
        `pipeline("text-generation", model=path)` load. Returns a summary
        (`format`, `path`, `files`, `parameters`, `tokenizer_class`)."""
        from keras_gpt1.models.checkpoint_formats import writer

        return writer("transformers")(self, path)

    # === Presets ===
    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """A causal LM from a built-in architecture name (`"gpt1"`,
        `"tiny"`: random weights; `tokenizer=` attaches one), a preset
        saved with `save_to_preset`, or a Hugging Face `openai-gpt`
        checkpoint (a directory or `hf://` handle; converted on the fly
        with GPT-1's tokenizer)."""
        if isinstance(preset, str) and preset in GPT1_PRESETS:
            tokenizer = kwargs.pop("tokenizer", None)
            preprocessor = kwargs.pop("preprocessor", None)
            backbone = GPT1Backbone.from_preset(preset, **kwargs)
            return cls(backbone, preprocessor=preprocessor, tokenizer=tokenizer)
        loader = preset_loader(preset)
        if kwargs.get("dtype") is None and saved_dtype(loader) is not None:
            kwargs["dtype"] = saved_dtype(loader)
        return loader.load_task(cls, load_weights, True, **kwargs)


def holds_token_ids(x):
    """Whether `x` is already token ids (integer arrays, a dict of them, a
    `keras.utils.PyDataset`), not text for the preprocessor."""
    if isinstance(x, keras.utils.PyDataset):
        return True
    if isinstance(x, dict):
        x = x.get(TOKEN_IDS)
    if isinstance(x, np.ndarray):
        return np.issubdtype(x.dtype, np.integer)
    return keras.ops.is_tensor(x) and "int" in keras.backend.standardize_dtype(x.dtype)


def resolve_sampler(sampler, temperature=1.0, top_k=10, top_p=0.9, seed=None):
    """A `keras_hub.samplers.Sampler` from a name or a sampler object;
    `GPT1InputError` for an unknown name."""
    samplers = keras_hub.samplers
    if isinstance(sampler, samplers.Sampler):
        return sampler
    if sampler == "top_k":
        return samplers.TopKSampler(k=top_k, seed=seed, temperature=temperature)
    if sampler == "top_p":
        return samplers.TopPSampler(p=top_p, seed=seed, temperature=temperature)
    if sampler == "greedy":
        return samplers.GreedySampler()
    if isinstance(sampler, str) and sampler in KERAS_HUB_SAMPLERS:
        return samplers.get(sampler)
    raise GPT1InputError(
        f"unknown sampler {sampler!r}; choose one of {', '.join(KERAS_HUB_SAMPLERS)} "
        "or pass a keras_hub.samplers.Sampler"
    )


def sampler_key(sampler):
    """What identifies a sampler's compiled loop: its class and config."""
    config = sampler.get_config()
    return (type(sampler).__name__, tuple(sorted((k, repr(v)) for k, v in config.items())))
