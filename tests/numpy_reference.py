"""GPT-1 forward pass in NumPy, written from the paper's equations and the
original `train.py` (independent of the Keras code under test)."""

import math

import numpy as np


def gelu(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def layer_norm(x, g, b, eps=1e-5):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * g + b


def softmax(x):
    x = x - x.max(-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(-1, keepdims=True)


def attention(x, w_attn, b_attn, w_proj, b_proj, num_heads):
    """x: (batch, T, d). Masked multi-head self-attention."""
    batch, t, d = x.shape
    hd = d // num_heads
    q, k, v = np.split(x @ w_attn + b_attn, 3, axis=-1)

    def heads(a):  # (batch, heads, T, hd)
        return a.reshape(batch, t, num_heads, hd).transpose(0, 2, 1, 3)

    q, k, v = heads(q), heads(k), heads(v)
    w = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hd)
    causal = np.tril(np.ones((t, t)))  # b in the original code
    w = w * causal + -1e9 * (1 - causal)
    a = softmax(w) @ v
    a = a.transpose(0, 2, 1, 3).reshape(batch, t, d)
    return a @ w_proj + b_proj


def block(x, p, num_heads, eps=1e-5):
    """Post-LN block. `p` holds c_attn_w, c_attn_b, attn_c_proj_w, ..."""
    a = attention(x, p["c_attn_w"], p["c_attn_b"], p["attn_proj_w"],
                  p["attn_proj_b"], num_heads)
    n = layer_norm(x + a, p["ln_1_g"], p["ln_1_b"], eps)
    m = gelu(n @ p["c_fc_w"] + p["c_fc_b"]) @ p["mlp_proj_w"] + p["mlp_proj_b"]
    return layer_norm(n + m, p["ln_2_g"], p["ln_2_b"], eps)


def block_params_from_keras(layer):
    """Map a `GPT1DecoderBlock`'s weights to the reference's names."""
    return {
        "c_attn_w": np.asarray(layer.attn.c_attn.kernel),
        "c_attn_b": np.asarray(layer.attn.c_attn.bias),
        "attn_proj_w": np.asarray(layer.attn.c_proj.kernel),
        "attn_proj_b": np.asarray(layer.attn.c_proj.bias),
        "ln_1_g": np.asarray(layer.ln_1.gamma),
        "ln_1_b": np.asarray(layer.ln_1.beta),
        "c_fc_w": np.asarray(layer.c_fc.kernel),
        "c_fc_b": np.asarray(layer.c_fc.bias),
        "mlp_proj_w": np.asarray(layer.c_proj.kernel),
        "mlp_proj_b": np.asarray(layer.c_proj.bias),
        "ln_2_g": np.asarray(layer.ln_2.gamma),
        "ln_2_b": np.asarray(layer.ln_2.beta),
    }


def lm_logits(token_ids, tokens_embed, positions_embed, blocks, num_heads):
    """Full model: (batch, T) ids -> (batch, T, vocab) logits, tied head."""
    t = token_ids.shape[1]
    h = tokens_embed[token_ids] + positions_embed[:t]
    for p in blocks:
        h = block(h, p, num_heads)
    return h @ tokens_embed.T
