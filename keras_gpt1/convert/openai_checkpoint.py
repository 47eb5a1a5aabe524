"""Read OpenAI's GPT-1 release (`finetune-transformer-lm/model/`).

The release is `params_shapes.json`, a list of tensor shapes, and ten
shards `params_0.npy ... params_9.npy` of one flat float32 array: the
original `train.py` concatenates the shards, splits them at the cumulative
sizes of the shapes and reshapes each piece. The tensors come in the order
of `weight_table.table`: positions `(n, d)`, tokens `(v, d)`, then 12 per
block, whose kernels have a leading axis of 1, e.g. `c_attn/w` is
`(1, d, 3d)`. Nothing here unpickles: shards are read with
`allow_pickle=False`.
"""

import os
import re

import numpy as np

from keras_gpt1.artifacts import read_json
from keras_gpt1.convert.weight_table import BLOCK_ROWS
from keras_gpt1.convert.weight_table import EMBEDDING_ROWS
from keras_gpt1.convert.weight_table import Architecture
from keras_gpt1.convert.weight_table import table
from keras_gpt1.errors import GPT1InputError

SHAPES_FILE = "params_shapes.json"
NUM_SHARDS = 10  # `range(10)` in the original loader
SHARD_FILE = "params_{}.npy"
SHARD_RE = re.compile(r"^params_(\d+)\.npy$")
# GPT-1's 12 heads; the shapes cannot tell the number of heads.
DEFAULT_NUM_HEADS = 12
# Which tensor of a block gives the MLP width: `mlp/c_fc/w` (1, d, f).
C_FC_INDEX = [row.original for row in BLOCK_ROWS].index("mlp/c_fc/w")


def original_shape(row, architecture):
    """The release's shape for a table row: kernels gain a leading 1."""
    shape = architecture.shape(row)
    if row in BLOCK_ROWS and len(shape) == 2:
        return (1,) + shape
    return shape


def read_shapes(directory):
    path = os.path.join(directory, SHAPES_FILE)
    shapes = read_json(path, f"{SHAPES_FILE} not found in {directory}")
    if not isinstance(shapes, list) or not all(
        isinstance(s, list) and all(isinstance(n, int) and n > 0 for n in s)
        for s in shapes
    ):
        raise GPT1InputError(f"{path} must be a list of shapes (lists of positive ints)")
    return [tuple(s) for s in shapes]


def infer_architecture(shapes, num_heads=DEFAULT_NUM_HEADS, source=SHAPES_FILE):
    """Sizes of the model whose tensors have `shapes` (release order).

    Raises `GPT1InputError` unless the shapes are exactly those of a GPT-1:
    2 embeddings, then 12 tensors per block, all of consistent sizes.
    """
    per_block = len(BLOCK_ROWS)
    num_embeddings = len(EMBEDDING_ROWS)
    blocks, remainder = divmod(len(shapes) - num_embeddings, per_block)
    if len(shapes) <= num_embeddings or remainder:
        raise GPT1InputError(
            f"{source}: {len(shapes)} tensors; a GPT-1 has "
            f"{num_embeddings} + {per_block} per block"
        )
    positions, tokens = shapes[0], shapes[1]
    c_fc = shapes[num_embeddings + C_FC_INDEX]
    if len(positions) != 2 or len(tokens) != 2 or len(c_fc) != 3:
        raise GPT1InputError(
            f"{source}: expected positions (n, d), tokens (v, d) and "
            f"c_fc/w (1, d, f); got {list(positions)}, {list(tokens)}, {list(c_fc)}"
        )
    architecture = Architecture(
        vocabulary_size=tokens[0],
        num_layers=blocks,
        num_heads=num_heads,
        hidden_dim=positions[1],
        intermediate_dim=c_fc[2],
        max_sequence_length=positions[0],
    )
    for index, (name, row, layer) in enumerate(table(blocks)):
        expected = original_shape(row, architecture)
        if shapes[index] != expected:
            original = row.original if layer is None else f"h{layer}/{row.original}"
            raise GPT1InputError(
                f"{source}: entry {index} ({original}) is "
                f"{list(shapes[index])}, expected {list(expected)}"
            )
    architecture.check(source)
    return architecture


def load_shard(path):
    """A shard as a flat float32 array; never unpickles."""
    name = os.path.basename(path)
    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as e:
        if "allow_pickle" in str(e):
            raise GPT1InputError(
                f"{name} holds pickled Python objects; refusing to load it"
            ) from None
        raise GPT1InputError(f"{name} is not a readable .npy file: {e}") from None
    except (OSError, EOFError) as e:
        raise GPT1InputError(f"{name} is not a readable .npy file: {e}") from None
    if not isinstance(array, np.ndarray) or not np.issubdtype(array.dtype, np.floating):
        raise GPT1InputError(f"{name} holds {getattr(array, 'dtype', type(array))}, not floats")
    return array.reshape(-1).astype(np.float32, copy=False)


def shard_paths(directory):
    """`params_0.npy ... params_9.npy` in `directory`, all present, no more."""
    found = {}
    for file in os.listdir(directory):
        match = SHARD_RE.match(file)
        if match:
            found[int(match.group(1))] = os.path.join(directory, file)
    missing = [i for i in range(NUM_SHARDS) if i not in found]
    if missing:
        raise GPT1InputError(
            f"missing shard {SHARD_FILE.format(missing[0])} in {directory} "
            f"(the release has {SHARD_FILE.format(0)} ... "
            f"{SHARD_FILE.format(NUM_SHARDS - 1)})"
        )
    if len(found) != NUM_SHARDS:
        raise GPT1InputError(
            f"{directory} has {len(found)} shards params_*.npy; the release "
            f"has {NUM_SHARDS} (params_0.npy ... params_{NUM_SHARDS - 1}.npy)"
        )
    return [found[i] for i in range(NUM_SHARDS)]


def read_openai_checkpoint(directory, num_heads=DEFAULT_NUM_HEADS):
    """`(weights, architecture)` from an OpenAI release directory.

    `weights` maps the Hugging Face names of `weight_table` to float32
    arrays in Keras layout (kernels `(in, out)`).
    """
    if not os.path.isdir(directory):
        raise GPT1InputError(f"not a directory: {directory}")
    shapes = read_shapes(directory)
    architecture = infer_architecture(shapes, num_heads)
    flat = np.concatenate([load_shard(p) for p in shard_paths(directory)])
    sizes = [int(np.prod(s)) for s in shapes]
    if flat.size != sum(sizes):
        raise GPT1InputError(
            f"the shards in {directory} hold {flat.size} values but "
            f"{SHAPES_FILE} needs {sum(sizes)}"
        )
    pieces = np.split(flat, np.cumsum(sizes)[:-1])
    weights = {}
    for (name, row, _), piece in zip(table(architecture.num_layers), pieces):
        # Dropping the leading 1 of a kernel is the only layout change.
        weights[name] = piece.reshape(architecture.shape(row))
    return weights, architecture
