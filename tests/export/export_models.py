"""Models and constants shared by the export tests: a tiny causal LM
(random weights) whose end token is made reachable, so that greedy rows
stop at different steps."""

import keras
import numpy as np

import keras_gpt1
from keras_gpt1.token_ids import token_id_lists

CONTEXT = 32
MAX_NEW_TOKENS = 8
PREFILL_LENGTH = 6  # < some prompts, and does not divide CONTEXT: chunks and a decode tail
PROMPTS = [
    "The cat sat",
    "A quick brown fox jumps over",
    "Hi",
    "Numbers like 12",
    "Language models predict the next",
]
# Step of the last prompt's greedy continuation whose token becomes (almost)
# the end token, so that row stops early while the others go on.
END_STEP = 2


def tiny_causal_lm(tokenizer, hidden_dim=16, seed=0):
    keras.utils.set_random_seed(seed)
    backbone = keras_gpt1.GPT1Backbone(
        vocabulary_size=tokenizer.vocabulary_size(),
        num_layers=2,
        num_heads=2,
        hidden_dim=hidden_dim,
        intermediate_dim=4 * hidden_dim,
        max_sequence_length=CONTEXT,
        dropout=0.0,
    )
    model = keras_gpt1.GPT1CausalLM(backbone, tokenizer)
    model.jit_compile_generate = False  # same graph; compiles faster here
    return model


def make_end_token_reachable(model, prompt=PROMPTS[-1]):
    """Point the end token's embedding (the tied output row) just past the
    token greedy decoding picks at `END_STEP` of `prompt`."""
    ids = np.asarray(model.tokenizer([prompt])[0])
    out = model.generate([ids], max_new_tokens=END_STEP + 1, stop_at_end=False)[0]
    target = int(out[len(ids) + END_STEP])
    embeddings = model.backbone.token_embedding.embeddings
    values = keras.ops.convert_to_numpy(embeddings).copy()
    values[model.tokenizer.end_token_id] = 1.05 * values[target]
    embeddings.assign(values)
    return model


def save_model_directory(model, directory):
    """`model` as a project model directory (model.keras + tokenizer files)."""
    import os

    from keras_gpt1 import artifacts

    artifacts.save_model_file(model, os.path.join(directory, artifacts.MODEL_FILE))
    model.tokenizer.save_to_directory(directory)
    return str(directory)


def trained_causal_lm(tokenizer, corpus_lines, context=64, epochs=8, seed=0):
    """A tiny LM trained on `corpus_lines` until its greedy text reads like
    them and its perplexity is far below the vocabulary's (random weights
    would spell out lone UTF-8 bytes, with near-uniform logits)."""
    keras.utils.set_random_seed(seed)
    lm = keras_gpt1.GPT1CausalLM(keras_gpt1.GPT1Backbone(
        vocabulary_size=tokenizer.vocabulary_size(), num_layers=2, num_heads=2,
        hidden_dim=32, intermediate_dim=128, max_sequence_length=context, dropout=0.0,
    ), tokenizer=tokenizer)
    stream = np.concatenate([np.asarray(r, "int32") for r in token_id_lists(
        tokenizer, [line + "\n" for line in corpus_lines] * 20)])
    windows = np.lib.stride_tricks.sliding_window_view(stream, 33)[::7]
    lm.compile(optimizer=keras.optimizers.Adam(3e-3))
    keras.Model.fit(lm, windows[:, :-1], windows[:, 1:], batch_size=16, epochs=epochs,
                    verbose=0)
    return lm
