"""GPT-1 backbone: token ids -> final hidden states."""

import keras
from keras import ops
from keras_hub.layers import PositionEmbedding
from keras_hub.layers import ReversibleEmbedding

from keras_gpt1.errors import GPT1InputError
from keras_gpt1.hyperparameters import INITIALIZER_STDDEV
from keras_gpt1.layers.decoder_block import GPT1DecoderBlock
from keras_gpt1.models.gpt1_presets import GPT1_PRESETS
from keras_gpt1.tokenizers.token_ids import check_token_ids


def gpt1_kernel_initializer():
    return keras.initializers.RandomNormal(stddev=INITIALIZER_STDDEV)


@keras.saving.register_keras_serializable(package="keras_gpt1")
class GPT1Backbone(keras.Model):
    """Token + learned position embedding, dropout, `num_layers` blocks.

    No LayerNorm after the stack (GPT-1 is post-LN). The token embedding
    (`we` in the original code) is a `ReversibleEmbedding`, so a task can
    reuse it as the tied output projection.

    Args:
        vocabulary_size, num_layers, num_heads, hidden_dim, intermediate_dim,
        max_sequence_length: the architecture.
        dropout: embedding, residual and attention dropout (paper: 0.1).
        layer_norm_epsilon: 1e-5 as in the original code.

    Call: int token ids `(batch, seq_len)`, `seq_len <= max_sequence_length`
    -> hidden states `(batch, seq_len, hidden_dim)`.

    Example:
    ```python
    backbone = GPT1Backbone.from_preset("tiny")
    hidden = backbone(np.zeros((2, 16), "int32"))  # (2, 16, 256)
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
        dropout=0.1,
        layer_norm_epsilon=1e-5,
        dtype=None,
        **kwargs,
    ):
        # === Layers ===
        self.token_embedding = ReversibleEmbedding(
            input_dim=vocabulary_size,
            output_dim=hidden_dim,
            embeddings_initializer=gpt1_kernel_initializer(),
            dtype=dtype,
            name="token_embedding",
        )
        self.position_embedding = PositionEmbedding(
            sequence_length=max_sequence_length,
            initializer=gpt1_kernel_initializer(),
            dtype=dtype,
            name="position_embedding",
        )
        self.embeddings_add = keras.layers.Add(
            dtype=dtype, name="embeddings_add"
        )
        self.embeddings_dropout = keras.layers.Dropout(
            dropout, dtype=dtype, name="embeddings_dropout"
        )
        self.transformer_layers = [
            GPT1DecoderBlock(
                num_heads=num_heads,
                intermediate_dim=intermediate_dim,
                dropout=dropout,
                layer_norm_epsilon=layer_norm_epsilon,
                kernel_initializer=gpt1_kernel_initializer(),
                dtype=dtype,
                name=f"h_{i}",
            )
            for i in range(num_layers)
        ]

        # === Functional model ===
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        x = self.embed(token_ids)
        for block in self.transformer_layers:
            x = block(x)
        super().__init__(inputs=token_ids, outputs=x, dtype=dtype, **kwargs)

        # === Config ===
        self.vocabulary_size = vocabulary_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.max_sequence_length = max_sequence_length
        self.dropout = dropout
        self.layer_norm_epsilon = layer_norm_epsilon

    @property
    def head_dim(self):
        return self.hidden_dim // self.num_heads

    def embed(self, token_ids, start_index=0, training=None):
        """`(batch, seq_len)` ids -> `(batch, seq_len, hidden_dim)` inputs
        of the first block: token + position embedding, then dropout."""
        tokens = self.token_embedding(token_ids)
        positions = self.position_embedding(tokens, start_index=start_index)
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

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
            "vocabulary_size": self.vocabulary_size,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "hidden_dim": self.hidden_dim,
            "intermediate_dim": self.intermediate_dim,
            "max_sequence_length": self.max_sequence_length,
            "dropout": self.dropout,
            "layer_norm_epsilon": self.layer_norm_epsilon,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.dtype_policies.deserialize(config["dtype"])
        return cls(**config)

    @classmethod
    def presets(cls):
        """Names of the built-in architecture presets."""
        return sorted(GPT1_PRESETS)

    @classmethod
    def from_preset(cls, preset, **kwargs):
        """A randomly initialised backbone of a built-in architecture.

        `kwargs` override preset fields (e.g. `vocabulary_size` of a trained
        tokenizer, `dropout=0.0`). To load trained weights use
        `keras_gpt1.artifacts.load_model(DIR)` or `keras.saving.load_model`.
        """
        if preset not in GPT1_PRESETS:
            raise GPT1InputError(
                f"unknown preset '{preset}'; choose one of "
                f"{', '.join(sorted(GPT1_PRESETS))}"
            )
        config = {**GPT1_PRESETS[preset], **kwargs}
        return cls(**config)
