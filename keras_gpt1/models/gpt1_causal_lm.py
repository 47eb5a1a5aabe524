"""GPT-1 language model: backbone + LM head tied to the token embedding,
with KV-cache generation."""

import keras
import numpy as np
from keras import ops

from keras_gpt1.errors import GPT1InputError
from keras_gpt1.hyperparameters import PRETRAIN_LEARNING_RATE
from keras_gpt1.hyperparameters import WEIGHT_DECAY
from keras_gpt1.tokenizers.token_ids import detokenize_text
from keras_gpt1.tokenizers.token_ids import token_id_lists

SAMPLERS = ("greedy", "top_k", "top_p")


def _backend_compile(fn, jit_compile):
    """Compile `fn` with the backend's graph compiler (XLA if `jit_compile`)."""
    backend = keras.config.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, jit_compile=jit_compile, reduce_retracing=True)
    return fn  # Other backends: eager (layers are backend-agnostic).


@keras.saving.register_keras_serializable(package="keras_gpt1")
class GPT1CausalLM(keras.Model):
    """Next-token model: int ids `(batch, seq_len)` -> logits
    `(batch, seq_len, vocabulary_size)`, float32.

    The output projection is the transposed token embedding (weight tying,
    as in the paper). An optional `tokenizer` travels with the model: it is
    saved inside the `.keras` file and reloaded with it, and lets
    `generate` take and return strings.

    Example:
    ```python
    lm = GPT1CausalLM(GPT1Backbone.from_preset("tiny"))
    logits = lm(np.zeros((2, 16), "int32"))           # (2, 16, 8000)
    ids = lm.generate(np.array([[5, 6, 7]]), max_new_tokens=8)
    ```
    """

    def __init__(self, backbone, tokenizer=None, **kwargs):
        # === Layers ===
        self.backbone = backbone
        if tokenizer is not None:
            tokenizer.built = True  # stateless lookup tables; nothing to build
        self.tokenizer = tokenizer
        # === Functional model ===
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        hidden = backbone(token_ids)
        logits = backbone.token_embedding(hidden, reverse=True)
        # Logits (and so losses) stay float32 under mixed precision.
        logits = keras.layers.Activation(
            "linear", dtype="float32", name="logits"
        )(logits)
        super().__init__(inputs=token_ids, outputs=logits, **kwargs)
        self.jit_compile_generate = True
        self._generate_functions = {}

    # === Training defaults ===
    def compile(self, optimizer="auto", loss="auto", metrics="auto", **kwargs):
        """Defaults: AdamW, next-token cross-entropy, perplexity."""
        from keras_hub.metrics import Perplexity

        if optimizer == "auto":
            optimizer = keras.optimizers.AdamW(
                PRETRAIN_LEARNING_RATE, weight_decay=WEIGHT_DECAY
            )
        if loss == "auto":
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        if metrics == "auto":
            metrics = [Perplexity(from_logits=True, name="perplexity")]
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def compile_from_config(self, config):
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if self.built:
            self.optimizer.build(self.trainable_variables)

    # === KV-cache decoding ===
    def initial_cache(self, batch_size, max_length):
        """Zero caches: per block a `(keys, values)` pair, each `(batch,
        max_length, heads, head_dim)`."""
        b = self.backbone
        shape = (batch_size, max_length, b.num_heads, b.head_dim)
        return tuple(
            (ops.zeros(shape, dtype=self.compute_dtype),
             ops.zeros(shape, dtype=self.compute_dtype))
            for _ in range(b.num_layers)
        )

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

    # === Generation ===
    def _make_sampler(self, sampler, temperature, top_k, top_p, seed):
        import keras_hub

        if sampler == "greedy":
            return keras_hub.samplers.GreedySampler()
        if sampler == "top_k":
            return keras_hub.samplers.TopKSampler(
                k=top_k, seed=seed, temperature=temperature
            )
        if sampler == "top_p":
            return keras_hub.samplers.TopPSampler(
                p=top_p, seed=seed, temperature=temperature
            )
        raise GPT1InputError(
            f"unknown sampler '{sampler}'; choose one of {', '.join(SAMPLERS)}"
        )

    def _generate_ids(self, token_ids, prompt_mask, sampler, stop_token_ids):
        """Fill `token_ids` (batch, max_length) after each row's prompt."""
        batch_size = ops.shape(token_ids)[0]
        max_length = ops.shape(token_ids)[1]
        cache = self.initial_cache(batch_size, max_length)
        # Prefill: keys/values of every position; those past a row's prompt
        # are overwritten as its tokens are generated.
        _, cache = self.backbone.call_with_cache(token_ids, cache, 0)
        index = ops.min(ops.sum(ops.cast(prompt_mask, "int32"), axis=1))

        def next_token_logits(prompt, cache, index):
            last = ops.slice(prompt, [0, index - 1], [batch_size, 1])
            logits, hidden, cache = self.call_with_cache(last, cache, index - 1)
            return ops.squeeze(logits, 1), ops.squeeze(hidden, 1), cache

        return sampler(
            next_token_logits,
            token_ids,
            cache=cache,
            index=index,
            mask=prompt_mask,
            stop_token_ids=stop_token_ids,
            model=self,
        )

    def generate(
        self,
        prompts,
        max_new_tokens=32,
        sampler="greedy",
        temperature=1.0,
        top_k=10,
        top_p=0.9,
        seed=None,
        stop_at_end=True,
    ):
        """Continue each prompt by up to `max_new_tokens` tokens.

        Args:
            prompts: a string or list of strings (needs `tokenizer`), or
                int ids: one list/array per prompt.
            sampler: "greedy", "top_k" (`top_k`) or "top_p" (`top_p`), with
                `temperature` and `seed` for the random ones.
            stop_at_end: stop a row at the end-of-text token.

        Returns the prompt followed by its continuation: strings for string
        input, else a list of int32 arrays (one per prompt, of its length).
        The whole decoding loop is one compiled (XLA) graph with a KV cache.
        """
        single = isinstance(prompts, str)
        is_text = single or (
            isinstance(prompts, (list, tuple))
            and len(prompts) > 0
            and isinstance(prompts[0], str)
        )
        if single:
            prompts = [prompts]
        if is_text:
            if self.tokenizer is None:
                raise GPT1InputError("text prompts need a model with a tokenizer")
            rows = token_id_lists(self.tokenizer, prompts)
        else:
            rows = [list(np.asarray(r).reshape(-1)) for r in prompts]
        if not rows:
            raise GPT1InputError("no prompt given")
        if max_new_tokens < 1:
            raise GPT1InputError(f"max_new_tokens must be >= 1; got {max_new_tokens}")
        context = self.backbone.max_sequence_length
        longest = max(len(r) for r in rows)
        if min(len(r) for r in rows) == 0:
            raise GPT1InputError("prompt is empty")
        if longest >= context:
            raise GPT1InputError(
                f"prompt of {longest} tokens leaves no room in the context "
                f"of {context}"
            )
        max_length = min(longest + max_new_tokens, context)
        pad_id = getattr(self.tokenizer, "pad_token_id", 0) or 0
        token_ids = np.full((len(rows), max_length), pad_id, dtype="int32")
        prompt_mask = np.zeros((len(rows), max_length), dtype="int32")
        for i, r in enumerate(rows):
            token_ids[i, : len(r)] = r
            prompt_mask[i, : len(r)] = 1
        self.backbone.check_token_ids(token_ids)

        end_id = getattr(self.tokenizer, "end_token_id", None)
        stop_token_ids = (end_id,) if (stop_at_end and end_id is not None) else None
        key = (sampler, temperature, top_k, top_p, seed, stop_token_ids)
        if key not in self._generate_functions:
            sampler_obj = self._make_sampler(sampler, temperature, top_k, top_p, seed)
            self._generate_functions[key] = _backend_compile(
                lambda ids, mask: self._generate_ids(
                    ids, mask, sampler_obj, stop_token_ids
                ),
                self.jit_compile_generate,
            )
        output = ops.convert_to_numpy(
            self._generate_functions[key](token_ids, prompt_mask)
        )

        results = []
        for i, r in enumerate(rows):
            row = output[i, : min(len(r) + max_new_tokens, max_length)]
            if stop_token_ids is not None:
                ends = np.nonzero(row[len(r):] == end_id)[0]
                if ends.size:
                    row = row[: len(r) + ends[0]]
            results.append(row.astype("int32"))
        if not is_text:
            return results
        texts = [detokenize_text(self.tokenizer, r) for r in results]
        return texts[0] if single else texts

    # === Serialization ===
    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "tokenizer": (
                keras.saving.serialize_keras_object(self.tokenizer)
                if self.tokenizer is not None
                else None
            ),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(
            config["backbone"]
        )
        if config.get("tokenizer") is not None:
            config["tokenizer"] = keras.saving.deserialize_keras_object(
                config["tokenizer"]
            )
        return cls(**config)

