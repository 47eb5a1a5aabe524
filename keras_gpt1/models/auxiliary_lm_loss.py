"""The auxiliary language-modeling loss of fine-tuning (paper §3.2, eq. 5).

Fine-tuning optimises `L3(C) = L2(C) + λ * L1(C)`: the task loss `L2` plus
`λ` times the next-token loss `L1` of the task's own token sequences, which
"improves generalization of the supervised model and accelerates
convergence". `GPT1TaskModel` adds `λ * L1` (λ: `hyperparameters.LM_LOSS_WEIGHT`) during training steps through
`add_loss`, so Keras's `compute_loss` returns `L2 + λ * L1`; with `λ = 0`
nothing is added and the loss is exactly `L2`.
"""

from keras import ops


def auxiliary_lm_loss(token_embedding, token_ids, padding_mask, hidden):
    """Mean next-token cross-entropy over the real tokens of a batch.

    Position `t` predicts token `t + 1` through the tied output projection
    (the transposed token embedding). Only targets that are real tokens
    count: padding is neither predicted nor averaged over.

    Args:
        token_embedding: the backbone's `ReversibleEmbedding`.
        token_ids: int `(batch, seq_len)`.
        padding_mask: int `(batch, seq_len)`, 1 on real tokens.
        hidden: the backbone's output `(batch, seq_len, hidden_dim)`.

    Returns a float32 scalar (0 for a batch without a target).
    """
    logits = token_embedding(hidden[:, :-1, :], reverse=True)
    logits = ops.cast(logits, "float32")  # (batch, seq_len - 1, vocab)
    targets = token_ids[:, 1:]
    weights = ops.cast(padding_mask[:, 1:], "float32")
    per_token = ops.sparse_categorical_crossentropy(
        targets, logits, from_logits=True
    )
    return ops.sum(per_token * weights) / ops.maximum(ops.sum(weights), 1.0)
