"""Every exported signature and tensor name, in one table, and what the
task signatures return. Apps, TF Serving clients and LiteRT runtimes look
tensors up by these names: they are a file format (add, don't rename).

SavedModel (TF Serving)
    `serving_default`, causal LM: `prompts` tf.string `(batch,)` ->
        `text`, `completion` tf.string `(batch,)`, `num_new_tokens` int32.
    `serving_default`, task model: the task's text inputs
        (`tasks.text_inputs`) -> `TASK_OUTPUTS[label kind]` + the string
        outputs of `SERVING_TASK_OUTPUTS`.
    `logits`: the model's own inputs (`token_ids`, and `padding_mask` for
        a task model) -> `logits`.

LiteRT
    causal LM: `prefill` and `decode`, inputs `tokens` int32 `(1, n)`,
        `input_pos` int32 `(n,)` and the KV cache `kv_cache_k_{i}` /
        `kv_cache_v_{i}` float32 `(1, max_length, heads, head_dim)` per
        block `i`; outputs `logits` `(1, 1, vocabulary_size)` and the
        updated caches under the same names.
    task model: `serving_default`, `token_ids` / `padding_mask` int32
        `(batch, num_sequences, seq_len)` -> `TASK_OUTPUTS[label kind]`.
"""

import tensorflow as tf

from keras_gpt1.tasks import CHOICE_LABELS
from keras_gpt1.tasks import CLASS_LABELS
from keras_gpt1.tasks import SCORE_LABELS

# The `task` field of a causal LM's export info and LiteRT config.
CAUSAL_LM_TASK = "causal_lm"

# === Signature names ===
SERVING_DEFAULT = "serving_default"  # what TF Serving and LiteRT call first
LOGITS_SIGNATURE = "logits"
PREFILL_SIGNATURE = "prefill"
DECODE_SIGNATURE = "decode"

# === Inputs ===
PROMPTS = "prompts"
TOKEN_IDS = "token_ids"
PADDING_MASK = "padding_mask"
TOKENS = "tokens"
INPUT_POS = "input_pos"
# `input_pos` entry of a padding token in a LiteRT prefill chunk.
PADDING_POSITION = -1

# === Outputs ===
LOGITS = "logits"
TEXT = "text"
COMPLETION = "completion"
NUM_NEW_TOKENS = "num_new_tokens"
PROBABILITIES = "probabilities"
SCORE = "score"
LABEL = "label"
LABEL_NAMES = "label_names"
CHOICE = "choice"

CAUSAL_LM_SERVING_OUTPUTS = (COMPLETION, NUM_NEW_TOKENS, TEXT)
# Numeric outputs of a task signature, by kind of label (SavedModel and
# LiteRT alike).
TASK_OUTPUTS = {
    CLASS_LABELS: (LOGITS, PROBABILITIES),
    CHOICE_LABELS: (LOGITS, PROBABILITIES),
    SCORE_LABELS: (LOGITS, SCORE),
}
# What a SavedModel adds: the best label (and all names, one row per
# example, so that every output keeps the batch dimension TF Serving's
# batching splits on), or the best answer's 0-based index.
SERVING_TASK_OUTPUTS = {
    CLASS_LABELS: (LABEL, LABEL_NAMES),
    CHOICE_LABELS: (CHOICE,),
    SCORE_LABELS: (),
}


def key_cache_name(layer_index):
    """The LiteRT key cache of block `layer_index`."""
    return f"kv_cache_k_{layer_index}"


def value_cache_name(layer_index):
    """The LiteRT value cache of block `layer_index`."""
    return f"kv_cache_v_{layer_index}"


def cache_names(num_layers):
    """`kv_cache_k_0, kv_cache_v_0, kv_cache_k_1, ...`."""
    names = []
    for i in range(num_layers):
        names += [key_cache_name(i), value_cache_name(i)]
    return names


def task_output_names(label_kind, serving=False):
    """Sorted output names of a task signature."""
    names = TASK_OUTPUTS[label_kind]
    if serving:
        names += SERVING_TASK_OUTPUTS[label_kind]
    return sorted(names)


def task_outputs(label_kind, logits, label_names=None, serving=False):
    """Model logits `(batch, n)` -> the task signature's output dict:
    `probabilities` (softmax over classes or answers) or `score`
    `(batch,)`; with `serving`, also `label` / `label_names` (classes) or
    `choice` (answers)."""
    outputs = {LOGITS: logits}
    if label_kind == SCORE_LABELS:
        outputs[SCORE] = logits[:, 0]
        return outputs
    probabilities = tf.nn.softmax(logits, axis=-1)
    outputs[PROBABILITIES] = probabilities
    if not serving:
        return outputs
    best = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
    if label_kind == CHOICE_LABELS:
        outputs[CHOICE] = best
    else:
        names = tf.constant(label_names, tf.string)
        outputs[LABEL] = tf.gather(names, best)
        outputs[LABEL_NAMES] = tf.tile(names[tf.newaxis, :], [tf.shape(logits)[0], 1])
    return outputs
