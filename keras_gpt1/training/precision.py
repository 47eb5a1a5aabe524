"""`--precision`: the dtype policy training runs in.

- `auto` (the default): `mixed_bfloat16` without XLA on a machine with no
  GPU or TPU whose CPU multiplies bfloat16 natively (AVX512-BF16 or AMX),
  where TensorFlow's oneDNN kernels train 1.15-1.3x faster than float32
  with XLA and the loss curve matches float32 (docs/benchmarks.md);
  `float32` elsewhere.
- `float32`: everything in float32.
- `mixed_bfloat16`: matmuls and activations in bfloat16, variables in
  float32 (TPUs, recent GPUs, CPUs with AVX512-BF16 or AMX).
- `mixed_float16`: as above in float16, with dynamic loss scaling
  (`keras.optimizers.LossScaleOptimizer`) so small gradients don't
  underflow.

Logits and losses stay float32 in every mode (the LM head and the task
head compute in float32). The model saved after training is float32
whatever the training precision, so inference and export need no flag.
"""

import os

import keras

from keras_gpt1.choices import PRECISIONS
from keras_gpt1.errors import GPT1InputError

BFLOAT16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
# Set to 1 or 0 to say whether the CPU multiplies bfloat16 natively instead
# of reading /proc/cpuinfo (a container that hides the flags; tests that
# take each `auto` path on any machine).
CPU_BFLOAT16_ENV = "KERAS_GPT1_CPU_BFLOAT16"


def check_precision(precision):
    if precision not in PRECISIONS:
        raise GPT1InputError(
            f"unknown precision '{precision}'; choose one of {', '.join(PRECISIONS)}"
        )
    return precision


def cpu_multiplies_bfloat16():
    """Whether this CPU has bfloat16 dot-product instructions (Linux), or
    what `KERAS_GPT1_CPU_BFLOAT16` (1 or 0) says."""
    told = os.environ.get(CPU_BFLOAT16_ENV, "").strip()
    if told:
        if told not in ("0", "1"):
            raise GPT1InputError(f"{CPU_BFLOAT16_ENV} must be 0 or 1; got {told!r}")
        return told == "1"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = set(f.read().split())
    except OSError:
        return False
    return any(flag in flags for flag in BFLOAT16_CPU_FLAGS)


def resolve(precision, jit_compile, on_cpu, backend="tensorflow"):
    """`(precision, jit_compile)` with `auto` and `None` (auto) filled in.

    `on_cpu`: training runs on CPU devices (no GPU, no TPU). XLA's CPU
    backend runs bfloat16 matmuls slower than float32 ones, so on
    TensorFlow bfloat16 on a CPU trains without XLA (on oneDNN's kernels)
    unless `jit_compile` says otherwise. On JAX everything is XLA: `auto`
    is mixed bfloat16 on GPUs and TPUs, float32 on CPUs, always compiled.
    """
    check_precision(precision)
    if backend != "tensorflow":
        if precision == "auto":
            precision = "float32" if on_cpu else "mixed_bfloat16"
        return precision, True if jit_compile is None else jit_compile
    if precision == "auto":
        native = on_cpu and cpu_multiplies_bfloat16()
        precision = "mixed_bfloat16" if native else "float32"
    if jit_compile is None:
        jit_compile = not (on_cpu and precision == "mixed_bfloat16")
    return precision, jit_compile


def with_loss_scaling(optimizer, precision):
    """Wrap `optimizer` for dynamic loss scaling when training in float16."""
    if precision == "mixed_float16":
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def rebuild_with_weights(model, build):
    """`build()` (a model of `model`'s architecture, e.g. in another dtype
    policy or outside a strategy scope) holding `model`'s weights."""
    copy = build()
    copy.set_weights(model.get_weights())
    return copy
