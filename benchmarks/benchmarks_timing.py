"""Shared helpers for the benchmarks: a measured matmul peak and MFU."""

import time

import numpy as np


def matmul_peak_gflops(n=2048, dtype="float32", repeats=10):
    """GFLOP/s of an XLA-compiled n x n matmul on this machine (best of
    `repeats`), the peak that model FLOPs utilisation is measured against."""
    import tensorflow as tf

    a = tf.constant(np.random.default_rng(0).normal(size=(n, n)), dtype=dtype)
    b = tf.constant(np.random.default_rng(1).normal(size=(n, n)), dtype=dtype)
    matmul = tf.function(lambda x, y: tf.matmul(x, y), jit_compile=True)
    matmul(a, b).numpy()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        matmul(a, b).numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def training_flops_per_token(parameters, num_layers, hidden_dim, seq_len):
    """6N + 12·L·d·T (PaLM appendix B): weights forward+backward plus
    attention scores and mixing."""
    return 6 * parameters + 12 * num_layers * hidden_dim * seq_len
