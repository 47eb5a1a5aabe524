"""GPT-1 backbone: token ids -> final hidden states, as a keras-hub
`Backbone` (presets, LoRA, quantization, layout maps for model parallelism)."""

import keras
import numpy as np
from keras import ops
from keras_hub.layers import PositionEmbedding
from keras_hub.models import Backbone

from keras_gpt1.errors import GPT1InputError
from keras_gpt1.errors import first_line
from keras_gpt1.hyperparameters import DROPOUT
from keras_gpt1.hyperparameters import INITIALIZER_STDDEV
from keras_gpt1.hyperparameters import LAYER_NORM_EPSILON
from keras_gpt1.keras_internals import internal
from keras_gpt1.layers.decoder_block import GPT1DecoderBlock
from keras_gpt1.models.gpt1_presets import GPT1_PRESETS
from keras_gpt1.models.gpt1_presets import preset_loader
from keras_gpt1.models.gpt1_presets import saved_dtype
from keras_gpt1.token_ids import check_concrete_token_ids
from keras_gpt1.token_ids import check_token_ids

TOKEN_IDS = "token_ids"
PADDING_MASK = "padding_mask"


def gpt1_kernel_initializer():
    """The paper: "weights initialized from N(0, 0.02)"."""
    return keras.initializers.RandomNormal(stddev=INITIALIZER_STDDEV)


def positions_from_mask(padding_mask):
    """Position of each token counted over real tokens only: `(batch,
    seq_len)` int32, 0 at each row's first real token. Equal to
    `arange(seq_len)` on rows without left padding, so a left-padded row
    reads the same positions as the unpadded sequence."""
    real_before = ops.cumsum(ops.cast(padding_mask, "int32"), axis=1)
    return ops.maximum(real_before - 1, 0)


def backbone_inputs(inputs):
    """`{"token_ids", "padding_mask"}` from a dict, or from bare ids (every
    token real)."""
    if isinstance(inputs, dict):
        if PADDING_MASK in inputs:
            return inputs
        token_ids = inputs[TOKEN_IDS]
    else:
        token_ids = inputs
    if isinstance(token_ids, (np.ndarray, list, tuple)):  # keep NumPy as NumPy
        token_ids = np.asarray(token_ids)
        return {TOKEN_IDS: token_ids, PADDING_MASK: np.ones(token_ids.shape, "int32")}
    return {TOKEN_IDS: token_ids, PADDING_MASK: ops.ones_like(token_ids, "int32")}


@keras.saving.register_keras_serializable(package="keras_gpt1")
class GPT1Backbone(Backbone):
    """Token + learned position embedding, dropout, `num_layers` blocks.

    No LayerNorm after the stack (GPT-1 is post-LN). The token embedding
    (`we` in the original code) is a `keras.layers.ReversibleEmbedding`, so
    a task can reuse it as the tied output projection (and `quantize`
    reaches it).

    Args:
        vocabulary_size, num_layers, num_heads, hidden_dim, intermediate_dim,
        max_sequence_length: the architecture.
        dropout: embedding, residual and attention dropout (paper: 0.1).
        attention_dropout: dropout of the attention weights alone, if it
            should differ from `dropout` (None: the same). At 0, training
            attention runs as one fused `keras.ops.dot_product_attention`
            (flash / cuDNN on GPUs), as inference always does.
        layer_norm_epsilon: 1e-5 as in the original code.
        dtype: a dtype policy (e.g. "bfloat16", "mixed_bfloat16"); kept
            through `save` / `save_to_preset`.

    Call: `{"token_ids", "padding_mask"}`, int `(batch, seq_len)`, `seq_len
    <= max_sequence_length`, or bare token ids (every token real) ->
    hidden states `(batch, seq_len, hidden_dim)`. Padding may be on either
    side: padded keys are masked out of attention and positions count real
    tokens only, so a padded row's real tokens get the hidden states of the
    unpadded sequence.

    Example:
    ```python
    backbone = GPT1Backbone.from_preset("tiny")   # random weights
    hidden = backbone({"token_ids": np.zeros((2, 16), "int32"),
                       "padding_mask": np.ones((2, 16), "int32")})  # (2, 16, 256)
    backbone = GPT1Backbone.from_preset("./my_preset")   # saved weights
    ```
    """

    def __init__(
        self,
        vocabulary_size,
        num_layers,
        num_heads,
        hidden_dim,
        intermediate_dim,
        max_sequence_length=512,
        dropout=DROPOUT,
        layer_norm_epsilon=LAYER_NORM_EPSILON,
        attention_dropout=None,
        dtype=None,
        **kwargs,
    ):
        # === Layers === (set before `super().__init__`: keras-hub's
        # `Backbone.__setattr__` keeps that working on the torch backend)
        self.token_embedding = keras.layers.ReversibleEmbedding(
            input_dim=vocabulary_size,
            output_dim=hidden_dim,
            embeddings_initializer=gpt1_kernel_initializer(),
            dtype=dtype,
            name="token_embedding",
        )
        policy = self.token_embedding.dtype_policy
        if policy.compute_dtype != policy.variable_dtype:
            # Mixed precision: the tied LM head (the largest matmul of a
            # training step) in the compute dtype like every other matmul.
            # Inside a model's call ReversibleEmbedding does not autocast
            # and would run it in float32.
            self.token_embedding.reverse_dtype = policy.compute_dtype
        self.position_embedding = PositionEmbedding(
            sequence_length=max_sequence_length,
            initializer=gpt1_kernel_initializer(),
            dtype=dtype,
            name="position_embedding",
        )
        self.embeddings_add = keras.layers.Add(dtype=dtype, name="embeddings_add")
        self.embeddings_dropout = keras.layers.Dropout(
            dropout, dtype=dtype, name="embeddings_dropout"
        )
        self.transformer_layers = [
            GPT1DecoderBlock(
                num_heads=num_heads,
                intermediate_dim=intermediate_dim,
                dropout=dropout,
                layer_norm_epsilon=layer_norm_epsilon,
                attention_dropout=attention_dropout,
                kernel_initializer=gpt1_kernel_initializer(),
                dtype=dtype,
                name=f"h_{i}",
            )
            for i in range(num_layers)
        ]

        # === Functional model ===
        token_ids = keras.Input(shape=(None,), dtype="int32", name=TOKEN_IDS)
        padding_mask = keras.Input(shape=(None,), dtype="int32", name=PADDING_MASK)
        x = self.embed(token_ids, positions=positions_from_mask(padding_mask))
        for block in self.transformer_layers:
            x = block(x, padding_mask=padding_mask)
        super().__init__(
            inputs={TOKEN_IDS: token_ids, PADDING_MASK: padding_mask},
            outputs=x,
            dtype=dtype,
            **kwargs,
        )

        # === Config ===
        self.vocabulary_size = vocabulary_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.max_sequence_length = max_sequence_length
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.layer_norm_epsilon = layer_norm_epsilon

    # Bare ids are accepted as well as the dict (`backbone_inputs`), by
    # `__call__` (TensorFlow, torch) and `call` (JAX's `stateless_call`).
    def __call__(self, inputs, *args, **kwargs):
        inputs = backbone_inputs(inputs)
        # Ids that hold values now are checked (an embedding lookup reads
        # zeros on a GPU, or wraps a negative id); inside a compiled
        # function (fit, predict, generate) no backend can raise, and the
        # entry points check instead (`check_token_ids`).
        check_concrete_token_ids(inputs[TOKEN_IDS], self.vocabulary_size)
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs, training=None, mask=None):
        # `training` by name: Keras passes it only to a `call` that names it.
        return super().call(backbone_inputs(inputs), training=training, mask=mask)

    @property
    def head_dim(self):
        return self.hidden_dim // self.num_heads

    def embed(self, token_ids, start_index=0, positions=None, training=None):
        """`(batch, seq_len)` ids -> `(batch, seq_len, hidden_dim)` inputs
        of the first block: token + position embedding, then dropout.
        Positions are `start_index, start_index + 1, ...` unless given."""
        tokens = self.token_embedding(token_ids)
        positions = self.position_embedding(
            tokens, start_index=start_index, positions=positions
        )
        x = self.embeddings_add((tokens, positions))
        return self.embeddings_dropout(x, training=training)

    def call_with_cache(self, token_ids, cache, cache_update_index):
        """Run `(batch, n)` new tokens at position `cache_update_index`.

        `cache`: per block a `(keys, values)` pair, each `(batch,
        max_length, num_heads, head_dim)` (see `CausalSelfAttention`).
        Returns `(hidden (batch, n, hidden_dim), updated cache)`.
        """
        x = self.embed(token_ids, start_index=cache_update_index)
        new_cache = []
        for block, layer_cache in zip(self.transformer_layers, cache):
            x, layer_cache = block(
                x, cache=layer_cache, cache_update_index=cache_update_index
            )
            new_cache.append(layer_cache)
        return x, tuple(new_cache)

    def initial_cache(self, batch_size, max_length, dtype=None):
        """Zero caches: per block a `(keys, values)` pair, each `(batch,
        max_length, num_heads, head_dim)`."""
        shape = (batch_size, max_length, self.num_heads, self.head_dim)
        dtype = dtype or self.compute_dtype
        return tuple(
            (ops.zeros(shape, dtype=dtype), ops.zeros(shape, dtype=dtype))
            for _ in range(self.num_layers)
        )

    def check_token_ids(self, token_ids):
        """Raise `GPT1InputError` unless ids are in range and fit the context.

        A GPU embedding lookup returns zeros for an out-of-range id without
        complaint, so entry points check explicitly.
        """
        ids = ops.convert_to_numpy(token_ids)
        if ids.ndim != 2:
            raise GPT1InputError(
                f"token ids must have shape (batch, seq_len); got {ids.shape}"
            )
        if ids.shape[1] > self.max_sequence_length:
            raise GPT1InputError(
                f"sequence of {ids.shape[1]} tokens is longer than the "
                f"context of {self.max_sequence_length}"
            )
        check_token_ids(ids, self.vocabulary_size)

    # === keras-hub hooks ===
    def default_lora_layer_names(self):
        """LoRA goes on the fused query/key/value projection of every
        block (`c_attn`), as GPT-style LoRA recipes do."""
        return ["c_attn"]

    def load_lora_weights(self, filepath):
        """keras-hub's, with its errors (a missing file, a file of another
        rank) as one-line `GPT1InputError`s."""
        try:
            super().load_lora_weights(filepath)
        except (ValueError, OSError, KeyError) as e:
            raise GPT1InputError(
                f"could not load LoRA weights {filepath}: {first_line(e)}"
            ) from None

    @staticmethod
    def get_layout_map(device_mesh, model_parallel_dim_name="model",
                       data_parallel_dim_name="batch"):
        """A `keras.distribution.LayoutMap` for `ModelParallel`: Megatron
        style, the first matmul of attention and of the MLP split by
        columns, the second by rows, the embedding by vocabulary rows."""
        model_dim, data_dim = model_parallel_dim_name, data_parallel_dim_name
        layout_map = keras.distribution.LayoutMap(device_mesh)
        layout_map["token_embedding/embeddings"] = (model_dim, data_dim)
        layout_map["position_embedding/embeddings"] = (None, data_dim)
        layout_map[r"h_\d+/attn/c_attn/kernel"] = (data_dim, model_dim)
        layout_map[r"h_\d+/attn/c_proj/kernel"] = (model_dim, data_dim)
        layout_map[r"h_\d+/c_fc/kernel"] = (data_dim, model_dim)
        layout_map[r"h_\d+/c_proj/kernel"] = (model_dim, data_dim)
        return layout_map

    def get_config(self):
        config = super().get_config()  # name, trainable, dtype (policy map)
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "num_layers": self.num_layers,
                "num_heads": self.num_heads,
                "hidden_dim": self.hidden_dim,
                "intermediate_dim": self.intermediate_dim,
                "max_sequence_length": self.max_sequence_length,
                "dropout": self.dropout,
                "attention_dropout": self.attention_dropout,
                "layer_norm_epsilon": self.layer_norm_epsilon,
            }
        )
        return config

    def export_to_transformers(self, path):
        """Write the new directory `path` (atomically): `config.json` and
        `model.safetensors` of a Hugging Face `openai-gpt` model (no
        tokenizer). Returns a summary (`format`, `path`, `files`,
        `parameters`)."""
        from keras_gpt1.models.checkpoint_formats import writer

        return writer("transformers")(self, path)

    # === Presets ===
    @internal("hub_classproperty")
    def presets(cls):
        """The built-in architectures (random weights): `gpt1`, `tiny`."""
        return {
            name: {"metadata": {"description": spec["description"]},
                   "config": spec["config"]}
            for name, spec in GPT1_PRESETS.items()
        }

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """A backbone from a built-in architecture name (`"gpt1"`,
        `"tiny"`: random weights; `kwargs` override its fields), a preset
        directory or handle saved with `save_to_preset`, or a Hugging Face
        `openai-gpt` checkpoint (a directory or `hf://` handle, converted
        on the fly)."""
        if isinstance(preset, str) and preset in GPT1_PRESETS:
            return cls(**{**GPT1_PRESETS[preset]["config"], **kwargs})
        loader = preset_loader(preset)
        backbone_cls = loader.check_backbone_class()
        if not issubclass(backbone_cls, cls):
            raise GPT1InputError(
                f"{preset} holds a {backbone_cls.__name__}, not a {cls.__name__}"
            )
        if kwargs.get("dtype") is None and saved_dtype(loader) is not None:
            kwargs["dtype"] = saved_dtype(loader)
        return loader.load_backbone(backbone_cls, load_weights, **kwargs)
