"""Shared helpers for the benchmarks: a measured matmul peak and MFU."""

import time

import numpy as np


def matmul_peak_gflops(n=2048, dtype="float32", repeats=10):
    """GFLOP/s of an n x n matmul on this machine, the faster of XLA and
    TensorFlow's oneDNN kernel (best of `repeats` each): the peak that model
    FLOPs utilisation is measured against."""
    import tensorflow as tf

    a = tf.constant(np.random.default_rng(0).normal(size=(n, n)), dtype=dtype)
    b = tf.constant(np.random.default_rng(1).normal(size=(n, n)), dtype=dtype)
    best = float("inf")
    for xla in (True, False):
        matmul = tf.function(lambda x, y: tf.matmul(x, y), jit_compile=xla)
        matmul(a, b).numpy()
        for _ in range(repeats):
            start = time.perf_counter()
            matmul(a, b).numpy()
            best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def training_flops_per_token(parameters, num_layers, hidden_dim, seq_len):
    """6N + 12·L·d·T (PaLM appendix B): weights forward+backward plus
    attention scores and mixing."""
    return 6 * parameters + 12 * num_layers * hidden_dim * seq_len


def machine_description():
    """CPU model, its bfloat16 / AMX flags, core count, load average and library versions,
    for the record beside each figure."""
    import os

    cpu, flags = "unknown CPU", set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name") and cpu == "unknown CPU":
                    cpu = line.split(":", 1)[1].strip()
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    versions = {}
    for name in ("tensorflow", "keras", "keras_hub", "torch", "transformers", "jax"):
        try:
            versions[name] = __import__(name).__version__
        except ImportError:
            pass
    return {"cpu": cpu, "cores": os.cpu_count(),
            "load_average_1_5_15_min": [round(x, 2) for x in os.getloadavg()],
            "bfloat16_flags": sorted(flags & {"avx512_bf16", "amx_bf16", "amx_tile"}),
            "versions": versions}
