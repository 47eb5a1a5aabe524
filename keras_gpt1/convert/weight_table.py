"""Where each GPT-1 tensor of OpenAI's and Hugging Face's checkpoints goes in
a `GPT1Backbone`, with the shapes checked on the way in.

Readers of the two layouts (`openai_checkpoint.py`, `hf_checkpoint.py`)
return weights keyed by the Hugging Face names below (without the
`transformer.` prefix), already in Keras' layout; `build_backbone` then
copies them in by this table.

| Hugging Face (`transformer.`...) | original `train.py`          | Keras (`GPT1Backbone.`...)                 | shape   |
|----------------------------------|------------------------------|--------------------------------------------|---------|
| `positions_embed.weight`         | tensor 0 (`we`, positions)   | `position_embedding.position_embeddings`   | (n, d)  |
| `tokens_embed.weight`            | tensor 1 (`we`, tokens)      | `token_embedding.embeddings`               | (v, d)  |
| `h.{i}.attn.c_attn.weight`       | `h{i}/attn/c_attn/w`         | `transformer_layers[i].attn.c_attn.kernel` | (d, 3d) |
| `h.{i}.attn.c_attn.bias`         | `h{i}/attn/c_attn/b`         | `transformer_layers[i].attn.c_attn.bias`   | (3d,)   |
| `h.{i}.attn.c_proj.weight`       | `h{i}/attn/c_proj/w`         | `transformer_layers[i].attn.c_proj.kernel` | (d, d)  |
| `h.{i}.attn.c_proj.bias`         | `h{i}/attn/c_proj/b`         | `transformer_layers[i].attn.c_proj.bias`   | (d,)    |
| `h.{i}.ln_1.weight`              | `h{i}/ln_1/g`                | `transformer_layers[i].ln_1.gamma`         | (d,)    |
| `h.{i}.ln_1.bias`                | `h{i}/ln_1/b`                | `transformer_layers[i].ln_1.beta`          | (d,)    |
| `h.{i}.mlp.c_fc.weight`          | `h{i}/mlp/c_fc/w`            | `transformer_layers[i].c_fc.kernel`        | (d, f)  |
| `h.{i}.mlp.c_fc.bias`            | `h{i}/mlp/c_fc/b`            | `transformer_layers[i].c_fc.bias`          | (f,)    |
| `h.{i}.mlp.c_proj.weight`        | `h{i}/mlp/c_proj/w`          | `transformer_layers[i].c_proj.kernel`      | (f, d)  |
| `h.{i}.mlp.c_proj.bias`          | `h{i}/mlp/c_proj/b`          | `transformer_layers[i].c_proj.bias`        | (d,)    |
| `h.{i}.ln_2.weight`              | `h{i}/ln_2/g`                | `transformer_layers[i].ln_2.gamma`         | (d,)    |
| `h.{i}.ln_2.bias`                | `h{i}/ln_2/b`                | `transformer_layers[i].ln_2.beta`          | (d,)    |

Original tensors are numbered in release order (the order of
`params_shapes.json`), not by shard. n = context (512), v = vocabulary
(40,478), d = width (768), f = MLP width (3072). No tensor is transposed: the original code's `conv1d` with
`rf=1` and Hugging Face's `Conv1D` both store `(in, out)` like a Keras
`Dense` kernel; the original only adds a leading axis of 1 (`(1, in, out)`),
which its reader drops. The output layer has no weights of its own: it is
the transposed token embedding (`lm_head.weight` in Hugging Face).
"""

import dataclasses

import numpy as np

from keras_gpt1.errors import GPT1InputError


@dataclasses.dataclass(frozen=True)
class TableRow:
    """One tensor: its Hugging Face name, original name, Keras attribute path
    and symbolic Keras shape (names from `Architecture.dimensions`)."""

    name: str
    original: str
    keras: str
    shape: tuple


EMBEDDING_ROWS = (
    TableRow("positions_embed.weight", "we[positions]",
             "position_embedding.position_embeddings", ("n", "d")),
    TableRow("tokens_embed.weight", "we[tokens]",
             "token_embedding.embeddings", ("v", "d")),
)

# One block's tensors, in the order of the original release.
BLOCK_ROWS = (
    TableRow("attn.c_attn.weight", "attn/c_attn/w", "attn.c_attn.kernel", ("d", "3d")),
    TableRow("attn.c_attn.bias", "attn/c_attn/b", "attn.c_attn.bias", ("3d",)),
    TableRow("attn.c_proj.weight", "attn/c_proj/w", "attn.c_proj.kernel", ("d", "d")),
    TableRow("attn.c_proj.bias", "attn/c_proj/b", "attn.c_proj.bias", ("d",)),
    TableRow("ln_1.weight", "ln_1/g", "ln_1.gamma", ("d",)),
    TableRow("ln_1.bias", "ln_1/b", "ln_1.beta", ("d",)),
    TableRow("mlp.c_fc.weight", "mlp/c_fc/w", "c_fc.kernel", ("d", "f")),
    TableRow("mlp.c_fc.bias", "mlp/c_fc/b", "c_fc.bias", ("f",)),
    TableRow("mlp.c_proj.weight", "mlp/c_proj/w", "c_proj.kernel", ("f", "d")),
    TableRow("mlp.c_proj.bias", "mlp/c_proj/b", "c_proj.bias", ("d",)),
    TableRow("ln_2.weight", "ln_2/g", "ln_2.gamma", ("d",)),
    TableRow("ln_2.bias", "ln_2/b", "ln_2.beta", ("d",)),
)


def block_name(layer, row):
    """`h.{layer}.{row.name}`, the Hugging Face name of a block tensor."""
    return f"h.{layer}.{row.name}"


@dataclasses.dataclass(frozen=True)
class Architecture:
    """A GPT-1's sizes, as read from a checkpoint."""

    vocabulary_size: int
    num_layers: int
    num_heads: int
    hidden_dim: int
    intermediate_dim: int
    max_sequence_length: int
    layer_norm_epsilon: float = 1e-5

    def dimensions(self):
        """Values of the symbolic dimensions used in the table."""
        d = self.hidden_dim
        return {"n": self.max_sequence_length, "v": self.vocabulary_size,
                "d": d, "3d": 3 * d, "f": self.intermediate_dim}

    def shape(self, row):
        dims = self.dimensions()
        return tuple(dims[s] for s in row.shape)

    def check(self, source):
        if self.num_heads < 1 or self.hidden_dim % self.num_heads:
            raise GPT1InputError(
                f"{source}: width {self.hidden_dim} is not divisible by "
                f"{self.num_heads} heads"
            )

    def backbone_config(self, dropout):
        return {**dataclasses.asdict(self), "dropout": dropout}


def table(num_layers):
    """`(hf_name, row, layer or None)` for every tensor of the model, in the
    order of the original release."""
    rows = [(row.name, row, None) for row in EMBEDDING_ROWS]
    for layer in range(num_layers):
        rows += [(block_name(layer, row), row, layer) for row in BLOCK_ROWS]
    return rows


def _variable(backbone, row, layer):
    owner = backbone if layer is None else backbone.transformer_layers[layer]
    for attribute in row.keras.split("."):
        owner = getattr(owner, attribute)
    return owner


def build_backbone(weights, architecture, source, dropout=0.1, **backbone_kwargs):
    """A `GPT1Backbone` of `architecture` holding `weights`.

    `weights`: `{hf_name: float32 array}` in Keras layout, exactly the
    tensors of `table(num_layers)`. Raises `GPT1InputError` naming `source`
    on a missing, extra or mis-shaped tensor. `backbone_kwargs` (e.g.
    `dtype`) go to the backbone.
    """
    from keras_gpt1.models.gpt1_backbone import GPT1Backbone

    architecture.check(source)
    expected = table(architecture.num_layers)
    names = {name for name, _, _ in expected}
    extra = sorted(set(weights) - names)
    if extra:
        raise GPT1InputError(f"{source}: unexpected tensor {extra[0]}")
    for name, row, _ in expected:
        if name not in weights:
            raise GPT1InputError(f"{source}: missing tensor {name}")
        shape = architecture.shape(row)
        if tuple(weights[name].shape) != shape:
            raise GPT1InputError(
                f"{source}: {name} has shape {list(weights[name].shape)}, "
                f"expected {list(shape)}"
            )
    backbone = GPT1Backbone(**architecture.backbone_config(dropout), **backbone_kwargs)
    for name, row, layer in expected:
        variable = _variable(backbone, row, layer)
        # The table and the backbone must agree; a failure here is a bug.
        assert tuple(variable.shape) == architecture.shape(row), name
        variable.assign(weights[name])
    return backbone


def backbone_weights(backbone):
    """`{hf_name: float32 array}` of a `GPT1Backbone`, in Keras layout (the
    layout of Hugging Face's `Conv1D` too): the inverse of
    `build_backbone`."""
    from keras import ops

    weights = {}
    for name, row, layer in table(backbone.num_layers):
        value = ops.cast(_variable(backbone, row, layer), "float32")
        weights[name] = np.ascontiguousarray(ops.convert_to_numpy(value))
    return weights
