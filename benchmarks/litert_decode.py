"""GPT-1 on LiteRT-LM: `.litertlm` file size, decode and prefill speed,
against the project's Python LiteRT loop, Keras `generate` and the memory
floor of this machine, measured in the same process.

For each preset (random weights; `gpt1` by default: 12 layers, 768 wide,
cache length 512, the GPT-1 tokenizer) the model is traced once and
converted per quantization (`none` / `float16` / `int8`), and on this CPU:

- the `.litertlm` file (what `keras-gpt1 export --format litertlm` writes:
  `prefill_8/32/128` + `decode`, tokenizer, metadata): size against the
  goals (int8 <= 120 MB, float16 <= 240 MB); LiteRT-LM (`litert_lm`
  Python API, greedy) at each `--threads`: prefill tokens/s as the
  runtime reports it (`BenchmarkInfo`) for a fixed prompt of exactly
  `--prompt-tokens` tokens (LiteRT-LM runs the largest prefill signature
  that fits in what is left of the prompt: 128 tokens are one `prefill_128`
  call, 120 are three `prefill_32` and three `prefill_8`), and decode
  ms/token as (time of `run_decode` for N tokens - time for 1) / (N - 1),
  prefill excluded (the runtime's own decode figure beside it);
- the project's Python loop (`LiteRTCausalLM`, per `--loop-runtimes`: the
  compiled model with the KV cache in place, or the interpreter with the
  cache in and out of every call) on a `litert` bundle of the same graph
  (the `prefill_128` signature named `prefill`): one `prefill` call of the
  prompt, then N `decode` calls;
- Keras `generate` (XLA, float32, greedy): (time for N - time for 1) /
  (N - 1) (`--no-keras` leaves it out).

The memory floor. A decode step reads, at least, the weights it uses (every
constant in full, a table only looked up one row; the tied LM head reads
the whole embedding) and the KV cache it attends over (all `max_length`
slots, float32: the graph masks the slots past the position, it does not
skip them): `floor_mb`. The floor is that many bytes at the fastest rate
this process reads memory, measured right before and right after each row
at the row's thread count by three probes (best of 5 each, the faster of
before and after):
`copy` (a numpy copy of `--bandwidth-mb`, bytes read + written: it
under-reports streaming reads on some CPUs), `read` (a numpy OR-reduction
of `--bandwidth-mb`, bytes read) and `xnnpack_int8` (a one-op `.tflite`,
an int8 FULLY_CONNECTED of 1 x 768 by 768 x N whose `--bandwidth-mb` of
weights XNNPACK streams, as decode streams its weights). `floor_ms` uses
the largest of the three; `x floor` = decode ms/token / floor ms. float16
counts its stored bytes (XNNPACK widens them to float32 when it loads the
file, so float16 reads like float32 and cannot reach its floor).

Times are the best of `--repeats`. The result (command line, date,
machine, load average before and after each row) is printed as JSON with
`--json`; `cd benchmarks && python record.py litert_decode.py ...` keeps it
under `benchmarks/results/`.

    python benchmarks/litert_decode.py [--models gpt1|tiny ...]
        [--quantizations none float16 int8] [--threads 1 2] [--new-tokens 32]
        [--prompt-tokens 128] [--repeats 3] [--loop-threads 1 2]
        [--loop-runtimes compiled_model interpreter] [--no-keras]
        [--cache-attention litert|keras] [--work-dir DIR] [--output FILE] [--json]
"""

import argparse
import datetime
import json
import os
import sys
import tempfile
import threading
import time

import numpy as np
from benchmarks_timing import machine_description

import keras_gpt1
from keras_gpt1.export import LiteRTCausalLM
from keras_gpt1.export.cache_attention import CACHE_ATTENTIONS
from keras_gpt1.export.cache_attention import LITERT_ATTENTION
from keras_gpt1.export.causal_lm_litert import CausalLMLiteRTModule
from keras_gpt1.export.causal_lm_litert import causal_lm_litert_config
from keras_gpt1.export.causal_lm_litertlm import FORMAT_VERSION
from keras_gpt1.export.causal_lm_litertlm import LITERT_LM_MIN_VOCABULARY
from keras_gpt1.export.causal_lm_litertlm import check_prefill_lengths
from keras_gpt1.export.causal_lm_litertlm import executor_metadata
from keras_gpt1.export.causal_lm_litertlm import llm_metadata
from keras_gpt1.export.causal_lm_litertlm import prefill_signature
from keras_gpt1.export.causal_lm_litertlm import write_litertlm
from keras_gpt1.export.litert_bundle import write_bundle
from keras_gpt1.export.litert_cache_runner import RUNTIMES
from keras_gpt1.export.litert_conversion import QUANTIZATIONS
from keras_gpt1.export.litert_conversion import TracedModule
from keras_gpt1.export.signatures import DECODE_SIGNATURE
from keras_gpt1.export.signatures import PREFILL_SIGNATURE

SHARED_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                           "shared", "data")
GPT1_TOKENIZER_DIR = os.path.join(SHARED_DATA, "gpt1")
CORPUS = os.path.join(SHARED_DATA, "tinyshakespeare", "input.txt")
SIZE_GOALS_MB = {"int8": 120, "float16": 240}
MB = 1e6
# The fixed prompt, cut or padded to `--prompt-tokens` tokens of the model's tokenizer.
PROMPT_TEXT = (
    "The harbour town woke slowly on the first cold morning of the year. "
    "Fishermen carried their nets down to the boats, children ran along the "
    "sea wall, and the baker opened his shutters to let out the smell of "
    "bread. Above the roofs the gulls circled and called, waiting for the "
    "first catch to come in. Nobody noticed the stranger who stepped off the "
    "early coach with a small leather case and a letter addressed to the "
    "keeper of the lighthouse. She asked the way twice, thanked each person "
    "politely, and walked up the steep lane toward the cliffs where the wind "
    "was strongest. By noon the whole town was talking about her, and by "
    "evening three different stories were being told in the tavern about "
    "who she was and why she had come, none of them true, all of them "
    "better than the truth would turn out to be when the storm arrived and "
    "the old lamp at the top of the tower failed for the first time in "
    "forty years."
)


# === Machine ===
def machine():
    """CPU, cores, library versions, load average and the LiteRT-LM version."""
    from importlib import metadata

    info = machine_description()
    info.setdefault("load_average_1_5_15_min", [round(x, 2) for x in os.getloadavg()])
    for package in ("litert-lm", "litert-lm-api", "ai-edge-litert"):
        try:
            info["versions"][package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return info


def _parallel(threads, size, work):
    """Run `work(lo, hi)` over `threads` slices of `range(size)` at once
    (numpy releases the GIL) -> seconds."""
    bounds = [(int(p[0]), int(p[-1]) + 1)
              for p in np.array_split(np.arange(size), threads)]
    workers = [threading.Thread(target=work, args=b) for b in bounds]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return time.perf_counter() - start


def copy_probe(size_mb):
    source = np.ones(int(size_mb * MB) // 8, "float64")
    target = np.empty_like(source)

    def run(threads):
        return 2 * source.nbytes / _parallel(
            threads, source.size, lambda lo, hi: np.copyto(target[lo:hi], source[lo:hi]))
    return run


def read_probe(size_mb):
    source = np.ones(int(size_mb * MB) // 8, "uint64")

    def run(threads):
        return source.nbytes / _parallel(
            threads, source.size, lambda lo, hi: np.bitwise_or.reduce(source[lo:hi]))
    return run


def stream_probe_tflite(num_bytes, width=768):
    """A one-op `.tflite`: `y (1, N) = x (1, width) W^T`, `W` `(N, width)`
    int8 per output channel (`N * width` = `num_bytes`), float32 in and
    out: the dynamic-range FULLY_CONNECTED that decode runs, as large as
    asked (XNNPACK streams `W` once per call)."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    units = num_bytes // width
    model = schema.ModelT()
    model.version = 3
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.FULLY_CONNECTED
    code.version = 1
    model.operatorCodes = [code]
    weights = schema.BufferT()
    weights.data = np.random.default_rng(0).integers(
        -127, 128, size=units * width, dtype=np.int8).view(np.uint8)
    model.buffers = [schema.BufferT(), schema.BufferT(), weights, schema.BufferT()]

    def tensor(name, shape, kind, buffer, quantization=None):
        t = schema.TensorT()
        t.name, t.shape, t.type, t.buffer = name, np.array(shape, np.int32), kind, buffer
        t.quantization = quantization
        return t

    scales = schema.QuantizationParametersT()
    scales.scale = np.full(units, 0.01, np.float32)
    scales.zeroPoint = np.zeros(units, np.int64)
    scales.quantizedDimension = 0
    graph = schema.SubGraphT()
    graph.tensors = [tensor("x", [1, width], schema.TensorType.FLOAT32, 1),
                     tensor("w", [units, width], schema.TensorType.INT8, 2, scales),
                     tensor("y", [1, units], schema.TensorType.FLOAT32, 3)]
    op = schema.OperatorT()
    op.opcodeIndex = 0
    op.inputs, op.outputs = np.array([0, 1, -1], np.int32), np.array([2], np.int32)
    op.builtinOptionsType = schema.BuiltinOptions.FullyConnectedOptions
    op.builtinOptions = schema.FullyConnectedOptionsT()
    graph.operators = [op]
    graph.inputs, graph.outputs = np.array([0], np.int32), np.array([2], np.int32)
    model.subgraphs = [graph]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def xnnpack_probe(size_mb):
    from ai_edge_litert.interpreter import Interpreter

    num_bytes = int(size_mb * MB)
    tflite = stream_probe_tflite(num_bytes)
    interpreters = {}

    def run(threads):
        if threads not in interpreters:
            interpreter = Interpreter(model_content=tflite, num_threads=threads)
            interpreter.allocate_tensors()
            interpreter.set_tensor(interpreter.get_input_details()[0]["index"],
                                   np.ones((1, 768), "float32"))
            interpreter.invoke()  # packs the weights
            interpreters[threads] = interpreter
        start = time.perf_counter()
        interpreters[threads].invoke()
        return num_bytes / (time.perf_counter() - start)
    return run


class MemoryProbes:
    """This process's memory bandwidth, three ways (GB/s; see the module
    docstring); `measure(threads)` runs each 6 times and keeps the best
    of the last 5."""

    def __init__(self, size_mb):
        self.probes = {"copy": copy_probe(size_mb), "read": read_probe(size_mb),
                       "xnnpack_int8": xnnpack_probe(size_mb)}

    def measure(self, threads, repeats=5):
        rates = {}
        for name, probe in self.probes.items():
            probe(threads)  # faults the pages in, warms up
            rates[name] = max(probe(threads) for _ in range(repeats)) / 1e9
        rates["best"] = max(rates.values())
        rates["load_average_1_5_15_min"] = [round(x, 2) for x in os.getloadavg()]
        return rates


# === Model, tokenizer, prompt ===
def preset_tokenizer(preset, work_dir):
    """GPT-1's own tokenizer for `gpt1` (40,478 tokens + 3 specials) when
    its files are there; else byte-level BPE trained on tinyshakespeare at
    the preset's vocabulary size (the fixed prompt where that is missing)."""
    from keras_gpt1.models.gpt1_presets import preset_config
    from keras_gpt1.tokenizers.bpe_training import train_bpe
    from keras_gpt1.tokenizers.openai_gpt_tokenizer import OpenAIGPTTokenizer

    if preset == "gpt1" and os.path.isdir(GPT1_TOKENIZER_DIR):
        return OpenAIGPTTokenizer.from_directory(GPT1_TOKENIZER_DIR)
    corpus = CORPUS
    if not os.path.isfile(corpus):
        corpus = os.path.join(work_dir, "prompt.txt")
        with open(corpus, "w", encoding="utf-8") as f:
            f.write(PROMPT_TEXT)
    return train_bpe([corpus], preset_config(preset)["vocabulary_size"])


def preset_model(preset, work_dir):
    """Random weights (seed 0), no dropout, the vocabulary of the tokenizer."""
    import keras

    tokenizer = preset_tokenizer(preset, work_dir)
    keras.utils.set_random_seed(0)
    backbone = keras_gpt1.GPT1Backbone.from_preset(
        preset, dropout=0.0, vocabulary_size=tokenizer.vocabulary_size())
    return keras_gpt1.GPT1CausalLM(backbone, tokenizer)


def fixed_prompt(tokenizer, num_tokens):
    """`PROMPT_TEXT` cut or padded (with " .") to exactly `num_tokens`
    tokens where the tokenizer allows -> (text, ids)."""
    from keras_gpt1.token_ids import token_id_lists

    def ids_of(text):
        return np.asarray(token_id_lists(tokenizer, [text])[0], "int32")

    words = PROMPT_TEXT.split()
    text = words[0]
    for count in range(2, len(words) + 1):
        if len(ids_of(" ".join(words[:count]))) > num_tokens:
            break
        text = " ".join(words[:count])
    while len(ids_of(text + " .")) <= num_tokens:
        text += " ."
    return text, ids_of(text)


# === Files ===
def decode_weight_bytes(tflite_bytes):
    """Bytes of constants the `decode` signature reads per call: each
    constant buffer in full, one row of a table only GATHERed or SLICEd
    (the position embedding) -> (stored bytes, bytes once float16 weights
    are dequantized to float32)."""
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.Model.GetRootAs(tflite_bytes, 0)
    index = next(model.SignatureDefs(i).SubgraphIndex()
                 for i in range(model.SignatureDefsLength())
                 if model.SignatureDefs(i).SignatureKey().decode() == DECODE_SIGNATURE)
    graph = model.Subgraphs(index)
    codes = [max(model.OperatorCodes(i).BuiltinCode(),
                 model.OperatorCodes(i).DeprecatedBuiltinCode())
             for i in range(model.OperatorCodesLength())]
    reads = {}  # buffer -> (bytes, full read, float16)
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        for position, t in enumerate(op.InputsAsNumpy()):
            if t < 0:
                continue
            tensor = graph.Tensors(int(t))
            buffer = model.Buffers(tensor.Buffer())
            size = max(buffer.DataLength(), buffer.Size())
            if size == 0:
                continue
            gathered = codes[op.OpcodeIndex()] in (
                schema.BuiltinOperator.GATHER, schema.BuiltinOperator.SLICE) \
                and position == 0
            rows = int(tensor.ShapeAsNumpy()[0]) if gathered else 1
            _, full, _ = reads.get(tensor.Buffer(), (0, False, False))
            reads[tensor.Buffer()] = (size if (full or not gathered) else size // rows,
                                      full or not gathered,
                                      tensor.Type() == schema.TensorType.FLOAT16)
    stored = sum(size for size, _, _ in reads.values())
    as_float32 = sum(2 * size if half else size for size, _, half in reads.values())
    return stored, as_float32


def rename_signature(tflite_bytes, old, new):
    """`tflite_bytes` with signature `old` called `new`."""
    from tensorflow.lite.tools import flatbuffer_utils

    from keras_gpt1.export.litert_conversion import share_quantization_parameters

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(tflite_bytes))
    for signature in model.signatureDefs:
        if signature.signatureKey in (old, old.encode()):
            signature.signatureKey = new
    share_quantization_parameters(model)  # as written: once for all signatures
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def write_files(model, tflite_bytes, quantize, max_length, prefill_lengths, work_dir,
                name):
    """The `.litertlm` export writes (same sections and metadata) and a
    `litert` bundle of the same graph -> (litertlm path, bundle .tflite)."""
    from keras_gpt1.tokenizers.hf_tokenizer_json import tokenizer_json

    tokenizer, backbone = model.tokenizer, model.backbone
    litertlm = os.path.join(work_dir, f"{name}-{quantize}.litertlm")
    write_litertlm(litertlm, tflite_bytes,
                   tokenizer_json(tokenizer, LITERT_LM_MIN_VOCABULARY),
                   llm_metadata(tokenizer, max_length),
                   executor_metadata(backbone.num_layers),
                   {"keras_gpt1_format_version": FORMAT_VERSION,
                    "keras_gpt1_tokenizer_class": type(tokenizer).__name__,
                    "keras_gpt1_vocabulary_size": backbone.vocabulary_size,
                    "keras_gpt1_quantization": quantize})
    longest = max(prefill_lengths)
    module = CausalLMLiteRTModule(model, max_length, {PREFILL_SIGNATURE: longest})
    bundle = os.path.join(work_dir, f"{name}-{quantize}-litert")
    write_bundle(bundle, rename_signature(tflite_bytes, prefill_signature(longest),
                                          PREFILL_SIGNATURE),
                 tokenizer, causal_lm_litert_config(module, tokenizer, quantize))
    return litertlm, os.path.join(bundle, "model.tflite")


# === Timings ===
def litertlm_session(engine, max_tokens):
    import litert_lm

    return engine.create_session(
        apply_prompt_template=False, max_output_tokens=max_tokens,
        sampler_config=litert_lm.SamplerConfig(top_k=1, top_p=1.0, temperature=1.0,
                                               seed=0))


def litertlm_run(engine, prompt, max_tokens):
    """One greedy generation -> (prefill s, decode s, BenchmarkInfo)."""
    session = litertlm_session(engine, max_tokens)
    try:
        start = time.perf_counter()
        session.run_prefill([prompt])
        prefilled = time.perf_counter()
        session.run_decode()
        decoded = time.perf_counter()
        return prefilled - start, decoded - prefilled, session.get_benchmark_info()
    finally:
        session.close()


def litertlm_timings(path, prompt, new_tokens, threads, repeats):
    """LiteRT-LM on `path`: prefill tokens/s and decode ms/token."""
    import litert_lm

    litert_lm.set_min_log_severity(litert_lm.LogSeverity.ERROR)
    start = time.perf_counter()
    engine = litert_lm.Engine(path, backend=litert_lm.Backend.CPU(thread_count=threads),
                              enable_benchmark=True, cache_dir=":nocache")
    load_s = time.perf_counter() - start
    try:
        prompt_tokens = len(engine.tokenize(prompt))
        litertlm_run(engine, prompt, 4)  # warm-up
        ones = [litertlm_run(engine, prompt, 1) for _ in range(repeats)]
        manys = [litertlm_run(engine, prompt, new_tokens) for _ in range(repeats)]
    finally:
        engine.close()
    infos = [info for _, _, info in manys]
    one = min(decode for _, decode, _ in ones)
    many = min(decode for _, decode, _ in manys)
    return {
        "load_s": load_s, "prompt_tokens": prompt_tokens,
        "prefill_tokens": infos[0].last_prefill_token_count,
        "prefill_tokens_per_s": max(i.last_prefill_tokens_per_second for i in infos),
        "prefill_tokens_per_s_wall": max(i.last_prefill_token_count / p
                                         for p, _, i in manys),
        "decode_ms_per_token": 1000 * (many - one) / (new_tokens - 1),
        "decode_ms_per_token_runtime": min(1000 / i.last_decode_tokens_per_second
                                           for i in infos),
        "decoded_tokens": [i.last_decode_token_count for i in infos],
        "time_to_first_token_s": min(i.time_to_first_token_in_second for i in infos),
        "decode_s_1_token": [d for _, d, _ in ones],
        "decode_s_n_tokens": [d for _, d, _ in manys],
    }


def best_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def python_loop_timings(tflite_path, prompt_ids, new_tokens, threads, repeats,
                        runtime):
    """`LiteRTCausalLM` (`runtime`): one `prefill` of the prompt, then
    `new_tokens` greedy `decode` calls, on a cache made beforehand."""
    start = time.perf_counter()
    runner = LiteRTCausalLM(tflite_path, num_threads=threads, runtime=runtime)
    cache = runner.initial_cache()
    runner.prefill(prompt_ids, cache)  # allocates and warms up
    load_s = time.perf_counter() - start
    prefill_s = best_time(lambda: runner.prefill(prompt_ids, cache), repeats)
    logits, cache = runner.prefill(prompt_ids, cache)

    def decode_loop():
        step_cache, step_logits = cache, logits
        for position in range(len(prompt_ids), len(prompt_ids) + new_tokens):
            token = int(np.argmax(step_logits))
            step_logits, step_cache = runner.decode(token, position, step_cache)

    decode_s = best_time(decode_loop, repeats)
    return {"load_s": load_s, "prompt_tokens": len(prompt_ids),
            "prefill_tokens": len(prompt_ids),
            "prefill_tokens_per_s": len(prompt_ids) / prefill_s,
            "decode_ms_per_token": 1000 * decode_s / new_tokens}


def keras_timings(model, prompt_ids, new_tokens, repeats):
    """Keras `generate` (XLA, greedy, KV cache): (time for N - time for 1)
    / (N - 1)."""
    def run(n):
        return lambda: model.generate([prompt_ids], max_new_tokens=n, stop_at_end=False)

    for n in (1, new_tokens):
        run(n)()  # compile
    one = best_time(run(1), repeats)
    many = best_time(run(new_tokens), repeats)
    return {"prompt_tokens": len(prompt_ids),
            "decode_ms_per_token": 1000 * (many - one) / (new_tokens - 1)}


# === One model ===
def floor_figures(row, before, after):
    """The memory floor of `row` at the bandwidth measured right before and
    right after it (the faster of the two, per probe)."""
    rates = {name: max(before[name], after[name])
             for name in ("copy", "read", "xnnpack_int8", "best")}
    rates["load_average_before_after"] = [before["load_average_1_5_15_min"],
                                          after["load_average_1_5_15_min"]]
    floor_mb = row["weight_mb_per_token"] + row["kv_cache_mb"]
    floor_ms = floor_mb * MB / (rates["best"] * 1e9) * 1000
    return {"bandwidth_gbs": rates, "floor_mb": floor_mb, "floor_ms": floor_ms,
            "weights_floor_ms": row["weight_mb_per_token"] * MB / (rates["best"] * 1e9)
            * 1000,
            "decode_over_floor": row["decode_ms_per_token"] / floor_ms}


def benchmark_model(name, args, probes, work_dir):
    model = preset_model(name, work_dir)
    backbone = model.backbone
    max_length = backbone.max_sequence_length
    new_tokens = min(args.new_tokens, max_length // 4)
    prompt, prompt_ids = fixed_prompt(
        model.tokenizer, min(args.prompt_tokens, max_length - new_tokens - 2))
    prefill_lengths = check_prefill_lengths(None, max_length)
    module = CausalLMLiteRTModule(
        model, max_length, {prefill_signature(n): n for n in prefill_lengths},
        cache_attention=args.cache_attention)
    common = {"model": name, "parameters": int(backbone.count_params()),
              "max_length": max_length, "new_tokens": new_tokens,
              "vocabulary_size": backbone.vocabulary_size,
              "tokenizer": type(model.tokenizer).__name__,
              "cache_attention": args.cache_attention,
              "kv_cache_mb": 2 * backbone.num_layers * max_length * backbone.hidden_dim
              * 4 / MB}
    rows, float32_weights = [], None
    start = time.perf_counter()
    with TracedModule(module) as traced:
        trace_s = time.perf_counter() - start
        for quantize in args.quantizations:
            start = time.perf_counter()
            tflite = traced.convert(quantize,
                                    tied_vocabulary_size=backbone.vocabulary_size)
            convert_s = time.perf_counter() - start
            stored, as_float32 = decode_weight_bytes(tflite)
            if quantize == "none":
                float32_weights = stored
            litertlm, bundle = write_files(model, tflite, quantize, max_length,
                                           prefill_lengths, work_dir, name)
            del tflite
            file = {"quantization": quantize, "size_mb": os.path.getsize(litertlm) / MB,
                    "size_goal_mb": SIZE_GOALS_MB.get(quantize),
                    "tflite_mb": os.path.getsize(bundle) / MB,
                    "weight_mb_per_token": stored / MB,
                    "weight_mb_per_token_float32": as_float32 / MB,
                    "convert_s": convert_s, "trace_s": trace_s, **common}
            for threads in args.threads:
                print(f"# {name} {quantize}: LiteRT-LM, {threads} thread(s)",
                      flush=True)
                before = probes.measure(threads)
                row = {**file, "runtime": "litert-lm", "threads": threads,
                       **litertlm_timings(litertlm, prompt, new_tokens, threads,
                                          args.repeats)}
                row.update(floor_figures(row, before, probes.measure(threads)))
                rows.append(row)
            for runtime in args.loop_runtimes:
                for threads in args.loop_threads:
                    print(f"# {name} {quantize}: Python loop ({runtime}), {threads} "
                          f"thread(s)", flush=True)
                    before = probes.measure(threads)
                    row = {**file, "runtime": f"python loop ({runtime})",
                           "threads": threads, "size_mb": file["tflite_mb"],
                           "size_goal_mb": None,
                           **python_loop_timings(bundle, prompt_ids, new_tokens, threads,
                                                 args.repeats, runtime)}
                    row.update(floor_figures(row, before, probes.measure(threads)))
                    rows.append(row)
            if not args.work_dir:
                os.remove(litertlm)
    if args.keras:
        print(f"# {name}: Keras generate", flush=True)
        threads = os.cpu_count()
        before = probes.measure(threads)
        weights = float32_weights or 4 * backbone.count_params()
        row = {**common, "runtime": "keras generate (XLA)", "quantization": "float32",
               "threads": threads, "size_mb": None, "size_goal_mb": None,
               "weight_mb_per_token": weights / MB,
               **keras_timings(model, prompt_ids, new_tokens, args.repeats)}
        row.update(floor_figures(row, before, probes.measure(threads)))
        rows.append(row)
    for row in rows:
        row["prompt"] = prompt
    return rows


# === Output ===
def _cell(value, fmt):
    return "-" if value is None else format(value, fmt)


def print_table(rows):
    header = ("model", "runtime", "quant", "threads", "file MB", "goal MB",
              "prefill tok/s", "decode ms/tok", "runtime's ms/tok", "floor MB/tok",
              "GB/s (copy/read/xnnpack)", "floor ms/tok", "x floor")
    lines = [header]
    for r in rows:
        rates = r["bandwidth_gbs"]
        lines.append((r["model"], r["runtime"], r["quantization"], r["threads"],
                      _cell(r["size_mb"], ".1f"), _cell(r["size_goal_mb"], "d"),
                      _cell(r.get("prefill_tokens_per_s"), ".0f"),
                      _cell(r["decode_ms_per_token"], ".2f"),
                      _cell(r.get("decode_ms_per_token_runtime"), ".2f"),
                      _cell(r["floor_mb"], ".1f"),
                      f"{rates['copy']:.1f} / {rates['read']:.1f} / "
                      f"{rates['xnnpack_int8']:.1f}",
                      _cell(r["floor_ms"], ".2f"),
                      _cell(r["decode_over_floor"], ".2f")))
    print("| " + " | ".join(lines[0]) + " |")
    rule = (" --- " if i < 3 else " ---: " for i in range(len(header)))
    print("|" + "|".join(rule) + "|")
    for line in lines[1:]:
        print("| " + " | ".join(str(c) for c in line) + " |")


def main(argv=None):
    summary = " ".join(__doc__.split("\n\n")[0].split())
    parser = argparse.ArgumentParser(description=summary)
    parser.add_argument("--models", nargs="+", default=["gpt1"],
                        choices=sorted(keras_gpt1.GPT1Backbone.presets),
                        help="presets to build with random weights")
    parser.add_argument("--quantizations", nargs="+", default=list(QUANTIZATIONS),
                        choices=QUANTIZATIONS)
    parser.add_argument("--threads", nargs="*", type=int, default=[1, 2],
                        help="LiteRT-LM CPU threads (none: skip LiteRT-LM)")
    parser.add_argument("--loop-threads", nargs="*", type=int, default=[1, 2],
                        help="Python-loop threads (none: skip the loop)")
    parser.add_argument("--loop-runtimes", nargs="*", default=["compiled_model"],
                        choices=RUNTIMES, help="LiteRTCausalLM runtimes to time")
    parser.add_argument("--cache-attention", default=LITERT_ATTENTION,
                        choices=CACHE_ATTENTIONS,
                        help="the graph's attention: litert (what export writes) or "
                        "keras (the model's layers, the graph before issue 23)")
    parser.add_argument("--no-keras", dest="keras", action="store_false",
                        help="leave out Keras generate")
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--prompt-tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--bandwidth-mb", type=int, default=256,
                        help="bytes each memory probe moves (several times the L3 cache)")
    parser.add_argument("--work-dir", help="keep the exported files here")
    parser.add_argument("--output", help="also write the JSON result here")
    parser.add_argument("--json", action="store_true", help="also print the JSON")
    args = parser.parse_args(argv)

    started = datetime.datetime.now(datetime.timezone.utc)
    result = {"command": " ".join(["python", "benchmarks/litert_decode.py",
                                   *(sys.argv[1:] if argv is None else argv)]),
              "date": started.isoformat(timespec="seconds"), "machine": machine()}
    probes = MemoryProbes(args.bandwidth_mb)
    bandwidth = {n: probes.measure(n) for n in (1, 2)}
    result["bandwidth_gbs_start"] = bandwidth
    print(f"# {result['machine']['cpu']}, {result['machine']['cores']} cores, load "
          f"{result['machine']['load_average_1_5_15_min']}; GB/s copy / read / "
          "xnnpack int8: " + ", ".join(
              f"{n} thread(s) {v['copy']:.1f} / {v['read']:.1f} / {v['xnnpack_int8']:.1f}"
              for n, v in bandwidth.items()), flush=True)
    rows = []
    if args.work_dir:
        os.makedirs(args.work_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="litert-bench-") as tmp:
        for name in args.models:
            rows += benchmark_model(name, args, probes, args.work_dir or tmp)
    result["rows"] = rows
    result["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    result["wall_s"] = (datetime.datetime.now(datetime.timezone.utc)
                        - started).total_seconds()
    print_table(rows)
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1, sort_keys=True)
    if args.json:
        print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
