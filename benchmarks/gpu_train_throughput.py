"""GPT-1 training and generation on one accelerator, every contender at its
best path, one process per framework (the accelerator issue's table).

    # on the GPU machine (JAX, PyTorch, transformers there; no TensorFlow):
    python benchmarks/gpu_train_throughput.py --json > $OUT/gpu.json
    python benchmarks/gpu_train_throughput.py --part levers --json > $OUT/levers.json
    # here, at toy size, to check the script runs:
    python benchmarks/gpu_train_throughput.py --dims toy --steps 2

Training (GPT-1 dims: 12 layers, 768 wide, 12 heads, seq 512, vocab 40,478,
dropout 0.1; AdamW with decoupled decay 0.01 and global clipping at 1.0;
random token ids; best of 3 x `--steps` after 3 warm-up steps), at batch 32
and 64 (`--part train`):

- keras-gpt1 on JAX (`GPT1CausalLM`, `GPT1AdamW`, mixed bfloat16, jit):
  `pretrain`'s default (`attention_dropout=0`: attention through one
  `keras.ops.dot_product_attention`, cuDNN flash), and with the paper's
  attention dropout 0.1 (the step-by-step attention);
- keras-hub `GPT2Backbone` at the same dims with the same tied head;
- transformers `OpenAIGPTLMHeadModel`, eager and `torch.compile`, bf16
  autocast, fused AdamW;
- a nanoGPT-style GPT-1 in PyTorch (post-LN, `scaled_dot_product_attention`
  with dropout 0.1, tanh GELU, tied head, `torch.compile`, bf16 autocast,
  fused AdamW): the engineering ceiling.

The levers of keras-gpt1's default path, each against that path in the
same process, batch 64 (`--part levers`); a lever that changes the numbers
is first checked equal to the plain path on one batch (`"loss_difference"`):

- `cross-entropy by gather`: the loss as logsumexp(logits) minus the
  target's logit, instead of Keras's log-softmax times a one-hot of 40,478;
- `logits left in bfloat16`: the head's output not cast to float32 before
  the loss (the loss upcasts inside it);
- `no dropout at all`: not a lever (it changes the model), the most that
  cheaper dropout masks could save;
- XLA flags, each in a process of its own (`XLA_FLAGS` is read at start):
  `--xla_gpu_triton_gemm_any=true` (Triton for every matmul it supports)
  and `--xla_gpu_enable_triton_gemm=false` (cuBLAS only).
Not levers to try, because Keras's JAX trainer already does them: buffer
donation (`jax.jit(train_step, donate_argnums=0)` donates the model and
optimizer state) and the fused optimizer update (the update runs inside
the same jitted step, where XLA fuses it).

Generation (greedy, prompt 32 + 128 new tokens, batch 1 and 8, after a
warm-up call; `--part generate`): keras-gpt1's compiled JAX `generate`,
keras-hub's `GPT2CausalLM.generate`, transformers' GPT-2 at the same dims
with a static cache and `torch.compile`.

Every contender runs its fastest path on a GPU: bfloat16 (Keras's
`mixed_bfloat16`, PyTorch's autocast) and compiled (jit; `torch.compile`,
with eager beside it for transformers). float32 is not timed there: it is
no contender's fast path on an H200. On a CPU (the smoke test) Keras runs
float32.

MFU is against a bfloat16 8192^3 matmul measured in the same run (PyTorch).
FLOPs per training token: 6 (12 L D^2 + V D) + 12 L T D.

`--part` picks what runs (default: all three), so that a short lease of a
GPU machine can split the run into several commands.
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DIMS = {
    "gpt1": dict(layers=12, width=768, heads=12, seq=512, vocab=40478, batches=(32, 64),
                 prompt=32, new_tokens=128),
    "toy": dict(layers=2, width=64, heads=2, seq=32, vocab=500, batches=(2, 4),
                prompt=8, new_tokens=16),
}


def flops_per_token(d):
    matmul_params = 12 * d["layers"] * d["width"] ** 2 + d["vocab"] * d["width"]
    return 6 * matmul_params + 12 * d["layers"] * d["seq"] * d["width"]


def best_seconds(step, sync, steps):
    """Best mean seconds per step of 3 rounds of `steps`, after 3 warm-ups."""
    for _ in range(3):
        step()
    sync()
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        sync()
        best = min(best, (time.perf_counter() - start) / steps)
    return best


def emit(record):
    print("RESULT " + json.dumps(record), flush=True)


# === Keras on JAX (keras-gpt1, keras-hub) ===

def gathered_cross_entropy():
    """Cross-entropy as logsumexp(logits) - logits[target], float32."""
    import keras
    from keras import ops

    class GatheredCrossEntropy(keras.losses.Loss):
        def call(self, y_true, y_pred):
            logits = ops.cast(y_pred, "float32")
            target = ops.expand_dims(ops.cast(y_true, "int32"), -1)
            picked = ops.squeeze(ops.take_along_axis(logits, target, axis=-1), -1)
            return ops.logsumexp(logits, axis=-1) - picked

    return GatheredCrossEntropy()


def keras_group(d, steps, parts, levers):
    os.environ["KERAS_BACKEND"] = "jax"
    import jax
    import keras
    import keras_hub
    import numpy as np

    from keras_gpt1 import GPT1Backbone
    from keras_gpt1 import GPT1CausalLM
    from keras_gpt1.optimizers import make_optimizer

    emit({"group": "keras", "jax": jax.__version__, "keras": keras.__version__,
          "keras_hub": keras_hub.__version__, "devices": [str(x) for x in jax.devices()],
          "xla_flags": os.environ.get("XLA_FLAGS", "")})
    on_gpu = any(x.platform == "gpu" for x in jax.devices())
    policy = "mixed_bfloat16" if on_gpu else "float32"
    config = dict(vocabulary_size=d["vocab"], num_layers=d["layers"], num_heads=d["heads"],
                  hidden_dim=d["width"], intermediate_dim=4 * d["width"],
                  max_sequence_length=d["seq"], dropout=0.1)
    plain_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def gpt1(attention_dropout=0.0, dropout=0.1, loss=plain_loss, bf16_logits=False):
        def build():
            keras.utils.set_random_seed(0)
            backbone = GPT1Backbone(**{**config, "dropout": dropout},
                                    attention_dropout=attention_dropout, dtype=policy)
            model = GPT1CausalLM(backbone)
            if bf16_logits:  # the same layers, without the float32 cast of the logits
                model = keras.Model(model.inputs, model.get_layer("logits").input)
            model.compile(optimizer=make_optimizer(6.25e-5), loss=loss,
                          weighted_metrics=[], jit_compile=True)
            return model
        return build

    def hub():
        backbone = keras_hub.models.GPT2Backbone(
            vocabulary_size=d["vocab"], num_layers=d["layers"], num_heads=d["heads"],
            hidden_dim=d["width"], intermediate_dim=4 * d["width"],
            max_sequence_length=d["seq"], dropout=0.1, dtype=policy)
        token_ids = keras.Input((None,), dtype="int32", name="token_ids")
        padding = keras.Input((None,), dtype="int32", name="padding_mask")
        hidden = backbone({"token_ids": token_ids, "padding_mask": padding})
        logits = keras.layers.Activation("linear", dtype="float32")(
            backbone.token_embedding(hidden, reverse=True))
        model = keras.Model({"token_ids": token_ids, "padding_mask": padding}, logits)
        optimizer = keras.optimizers.AdamW(6.25e-5, weight_decay=0.01, global_clipnorm=1.0)
        model.compile(optimizer=optimizer, jit_compile=True,
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        return model

    def batch_of(batch):
        rng = np.random.default_rng(0)
        ids = rng.integers(0, d["vocab"], (batch, d["seq"] + 1)).astype("int32")
        x = {"token_ids": ids[:, :-1], "padding_mask": np.ones_like(ids[:, :-1])}
        return x, ids[:, 1:]

    def train(name, build, batch, **extra):
        x, y = batch_of(batch)
        try:
            model = build()
            holder = {}

            def step(model=model):
                holder["loss"] = keras.Model.train_on_batch(model, x, y)

            def sync():
                float(np.asarray(holder["loss"]).reshape(-1)[0])

            seconds = best_seconds(step, sync, steps)
            emit({"task": "train", "contender": name, "batch": batch,
                  "path": f"{policy}, jit", "seconds_per_step": seconds, **extra})
            del model
        except Exception as e:  # a contender that fails is reported, not fatal
            emit({"task": "train", "contender": name, "batch": batch,
                  "error": repr(e)[:400], **extra})

    default = "keras-gpt1, pretrain's default (attention_dropout=0: fused attention)"
    if "train" in parts:
        contenders = [(default, gpt1()),
                      ("keras-gpt1, the paper's attention dropout 0.1", gpt1(None)),
                      ("keras-hub GPT2Backbone", hub)]
        for batch in d["batches"]:
            for name, build in contenders:
                train(name, build, batch)

    if "levers" in parts:
        batch = d["batches"][-1]
        if levers == "flags":  # this process runs under XLA_FLAGS: the default path alone
            train(default, gpt1(), batch, lever="XLA_FLAGS=" + os.environ.get("XLA_FLAGS", ""))
        else:
            # The levers that change the numbers, checked on one batch first.
            x, y = batch_of(batch)
            logits = np.asarray(gpt1()()(x, training=False), "float32")
            plain = float(np.mean(np.asarray(plain_loss(y, logits))))
            gathered = float(np.mean(np.asarray(gathered_cross_entropy()(y, logits))))
            half = np.asarray(gpt1(bf16_logits=True)()(x, training=False))
            upcast = float(np.mean(np.asarray(plain_loss(y, half))))
            for lever, build, difference in (
                    ("none (the default path)", gpt1(), None),
                    ("cross-entropy by gather", gpt1(loss=gathered_cross_entropy()),
                     abs(gathered - plain)),
                    ("logits left in bfloat16", gpt1(bf16_logits=True), abs(upcast - plain)),
                    ("no dropout at all (not a lever: the most cheaper masks save)",
                     gpt1(dropout=0.0), None)):
                extra = {"lever": lever}
                if difference is not None:
                    extra["loss_difference"] = difference
                train(default, build, batch, **extra)

    if "generate" in parts:
        tokens = np.random.default_rng(1).integers(5, d["vocab"], (8, d['prompt']))
        tokens = tokens.astype("int32")
        keras.utils.set_random_seed(0)
        lm = GPT1CausalLM(GPT1Backbone(**config, dtype=policy))
        hub_lm = keras_hub.models.GPT2CausalLM(keras_hub.models.GPT2Backbone(
            vocabulary_size=d["vocab"], num_layers=d["layers"], num_heads=d["heads"],
            hidden_dim=d["width"], intermediate_dim=4 * d["width"],
            max_sequence_length=d["seq"], dropout=0.1, dtype=policy), preprocessor=None)
        hub_lm.compile(sampler="greedy")
        for batch in (1, 8):
            total = d['prompt'] + d['new_tokens']
            padded = np.zeros((batch, total), "int32")
            padded[:, :d['prompt']] = tokens[:batch]
            mask = np.zeros_like(padded)
            mask[:, :d['prompt']] = 1
            packed = {"token_ids": padded, "padding_mask": mask}
            for name, generate in (
                    ("keras-gpt1 generate (JAX, KV cache)",
                     lambda: lm.generate(packed, stop_token_ids=None)),
                    ("keras-hub GPT2CausalLM.generate",
                     lambda: hub_lm.generate(packed, stop_token_ids=None))):
                try:
                    seconds = best_seconds(generate, lambda: None, 1)
                    emit({"task": "generate", "contender": name, "batch": batch,
                          "tokens_per_second": batch * d['new_tokens'] / seconds,
                          "ms_per_token": 1e3 * seconds / d['new_tokens']})
                except Exception as e:
                    emit({"task": "generate", "contender": name, "batch": batch,
                          "error": repr(e)[:400]})


# === PyTorch (transformers, nanoGPT-style) ===

def torch_group(d, steps, parts):
    import torch
    import torch.nn.functional as F
    from torch import nn

    device = "cuda" if torch.cuda.is_available() else "cpu"
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    emit({"group": "torch", "torch": torch.__version__, "device": device,
          "name": torch.cuda.get_device_name() if device == "cuda" else "cpu"})
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        n = 8192
        a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
        b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
        seconds = best_seconds(lambda: a @ b, sync, 10)
        emit({"task": "peak", "bf16_matmul_flops": 2 * n ** 3 / seconds})
        del a, b
    L, D, H, T, V = d["layers"], d["width"], d["heads"], d["seq"], d["vocab"]

    class Block(nn.Module):
        """GPT-1's block: post-LN, SDPA with attention dropout, tanh GELU."""

        def __init__(self):
            super().__init__()
            self.qkv, self.proj = nn.Linear(D, 3 * D), nn.Linear(D, D)
            self.fc, self.out = nn.Linear(D, 4 * D), nn.Linear(4 * D, D)
            self.ln1, self.ln2 = nn.LayerNorm(D), nn.LayerNorm(D)
            self.drop = nn.Dropout(0.1)

        def forward(self, h):
            b, t, _ = h.shape
            q, k, v = self.qkv(h).view(b, t, 3, H, D // H).permute(2, 0, 3, 1, 4)
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                               dropout_p=0.1 if self.training else 0.0)
            h = self.ln1(h + self.drop(self.proj(a.transpose(1, 2).reshape(b, t, D))))
            return self.ln2(h + self.drop(self.out(F.gelu(self.fc(h), approximate="tanh"))))

    class NanoGPT1(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte, self.wpe = nn.Embedding(V, D), nn.Embedding(T, D)
            self.blocks = nn.ModuleList(Block() for _ in range(L))
            self.drop = nn.Dropout(0.1)

        def forward(self, idx):
            h = self.drop(self.wte(idx) + self.wpe(torch.arange(idx.shape[1], device=idx.device)))
            for block in self.blocks:
                h = block(h)
            return h @ self.wte.weight.T

    def train(name, model, compiled, batch):
        g = torch.Generator().manual_seed(0)
        ids = torch.randint(0, V, (batch, T + 1), generator=g).to(device)
        x, y = ids[:, :-1], ids[:, 1:]
        model = model.to(device).train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=6.25e-5, weight_decay=0.01,
                                      fused=device == "cuda")

        def forward_backward():
            with torch.autocast(device, dtype=torch.bfloat16):
                out = model(x)
                logits = getattr(out, "logits", out)
                loss = F.cross_entropy(logits.reshape(-1, V).float(), y.reshape(-1))
            loss.backward()

        run = torch.compile(forward_backward) if compiled else forward_backward

        def step():
            optimizer.zero_grad(set_to_none=True)
            run()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()

        seconds = best_seconds(step, sync, steps)
        emit({"task": "train", "contender": name, "batch": batch,
              "path": ("torch.compile" if compiled else "eager") + ", bf16 autocast",
              "seconds_per_step": seconds})

    from transformers import GPT2Config
    from transformers import GPT2LMHeadModel
    from transformers import OpenAIGPTConfig
    from transformers import OpenAIGPTLMHeadModel

    for batch in d["batches"] if "train" in parts else ():
        for compiled in (False, True):
            try:
                torch.manual_seed(0)
                train("transformers OpenAIGPTLMHeadModel", OpenAIGPTLMHeadModel(OpenAIGPTConfig(
                    vocab_size=V, n_positions=T, n_embd=D, n_layer=L, n_head=H)), compiled, batch)
            except Exception as e:
                emit({"task": "train", "contender": "transformers", "batch": batch,
                      "error": repr(e)[:400]})
        try:
            torch.manual_seed(0)
            train("nanoGPT-style GPT-1 (PyTorch)", NanoGPT1(), True, batch)
        except Exception as e:
            emit({"task": "train", "contender": "nanoGPT-style", "batch": batch,
                  "error": repr(e)[:400]})

    if "generate" not in parts:
        return
    model = GPT2LMHeadModel(GPT2Config(vocab_size=V, n_positions=T, n_embd=D, n_layer=L,
                                       n_head=H)).to(device).eval()
    if device == "cuda":
        model = model.to(torch.bfloat16)
    model.forward = torch.compile(model.forward)
    prompt = torch.randint(5, V, (8, d['prompt']), generator=torch.Generator().manual_seed(1))
    for batch in (1, 8):
        def generate():
            with torch.no_grad():
                model.generate(prompt[:batch].to(device), max_new_tokens=d['new_tokens'],
                               min_new_tokens=d['new_tokens'], do_sample=False,
                               cache_implementation="static", pad_token_id=0)
        try:
            seconds = best_seconds(generate, sync, 1)
            emit({"task": "generate", "contender": "transformers GPT-2 (static cache, "
                  "torch.compile)", "batch": batch,
                  "tokens_per_second": batch * d['new_tokens'] / seconds,
                  "ms_per_token": 1e3 * seconds / d['new_tokens']})
        except Exception as e:
            emit({"task": "generate", "contender": "transformers GPT-2", "batch": batch,
                  "error": repr(e)[:400]})


PARTS = ("train", "levers", "generate")
XLA_FLAG_LEVERS = ("--xla_gpu_triton_gemm_any=true", "--xla_gpu_enable_triton_gemm=false")


def run_group(args, group, extra_env=None, levers=None):
    """One framework's contenders in a process of its own; their records."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [ROOT, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        "PYTHONUNBUFFERED": "1", **(extra_env or {})}
    command = [sys.executable, __file__, "--dims", args.dims, "--steps", str(args.steps),
               "--part", args.part, "--group", group]
    if levers:
        command += ["--levers", levers]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    records = [json.loads(line[len("RESULT "):]) for line in done.stdout.splitlines()
               if line.startswith("RESULT ")]
    if done.returncode:
        records.append({"group": group, "env": extra_env or {},
                        "error": done.stderr[-2000:]})
    return records


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dims", choices=sorted(DIMS), default="gpt1")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--part", default=",".join(PARTS),
                   help="comma-separated: " + ", ".join(PARTS) + " (default: all)")
    p.add_argument("--group", choices=("keras", "torch"), default=None,
                   help="(internal) run one framework's contenders in this process")
    p.add_argument("--levers", choices=("model", "flags"), default="model",
                   help="(internal) the levers this process measures")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    d = DIMS[args.dims]
    parts = set(args.part.split(","))
    if not parts <= set(PARTS):
        p.error(f"--part takes {', '.join(PARTS)}; got {args.part!r}")
    if args.group:
        if args.group == "keras":
            keras_group(d, args.steps, parts, args.levers)
        else:
            torch_group(d, args.steps, parts)
        return
    records = run_group(args, "torch") + run_group(args, "keras")
    if "levers" in parts:
        for flags in XLA_FLAG_LEVERS:
            env = {"XLA_FLAGS": " ".join(filter(None, [os.environ.get("XLA_FLAGS"), flags]))}
            records += [r for r in run_group(args, "keras", env, "flags")
                        if r.get("lever") or "error" in r]
    peak = next((r["bf16_matmul_flops"] for r in records if r.get("task") == "peak"), None)
    for r in records:
        if r.get("task") == "train" and "seconds_per_step" in r:
            r["tokens_per_second"] = r["batch"] * d["seq"] / r["seconds_per_step"]
            if peak:
                r["mfu"] = r["tokens_per_second"] * flops_per_token(d) / peak
    anchor = {r["batch"]: r["tokens_per_second"] for r in records
              if r.get("contender", "").startswith("nanoGPT") and "tokens_per_second" in r}
    for r in records:
        if r.get("task") == "train" and r.get("batch") in anchor and "tokens_per_second" in r:
            r["vs_nanogpt"] = r["tokens_per_second"] / anchor[r["batch"]]
    plain = next((r["tokens_per_second"] for r in records
                  if r.get("lever", "").startswith("none") and "tokens_per_second" in r), None)
    for r in records:
        if r.get("lever") and plain and "tokens_per_second" in r:
            r["vs_default_path"] = r["tokens_per_second"] / plain
    result = {"dims": args.dims, **d, "parts": sorted(parts), "peak_bf16_flops": peak,
              "records": records}
    print(json.dumps(result, indent=None if args.json else 1))


if __name__ == "__main__":
    main()
