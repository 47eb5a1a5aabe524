"""Where a GPT-1 LiteRT decode step goes: per op group time on one thread,
which ops XNNPACK runs and which fall back to LiteRT's builtin kernels, and
the bytes each op group reads and writes per step.

For the `gpt1` preset (random weights, cache 512, GPT-1's vocabulary) the
`decode` signature alone is converted (`--quantize`, default int8) once per
`--cache-attention` form: `keras` (the model's own attention layers: the
graph before issue 23) and `litert` (`keras_gpt1/export/cache_attention.py`,
what `export` writes). Per file:

- delegation: the decode graph's ops, and for each op type how many
  XNNPACK takes (nodes inside a `DELEGATE` partition of the interpreter)
  and how many run as builtin kernels;
- bytes per step, from the graph's tensor shapes: constants read (a table
  that is only gathered or sliced: what comes out), other tensors read and written by each
  op, `DYNAMIC_UPDATE_SLICE` counted in place (the update only, as with
  LiteRT-LM and `LiteRTCausalLM`'s compiled model);
- time: a child process loops `decode` through `CompiledModel` with the
  caches bound in place (1 thread) while `perf record -e cpu-clock -p`
  samples it for `--seconds`; each sampled symbol is mapped to an op group
  (`GROUPS`: XNNPACK micro-kernels and TFLite kernels keep their names in
  `libpywrap_litert_common.so`), and the share times the loop's measured
  ms/step gives ms per op group. Without `perf` the time table is left out.

    python benchmarks/litert_profile.py [--quantize int8] [--seconds 4]
        [--cache-attention keras litert] [--json]
    cd benchmarks && python record.py litert_profile.py   # raw result kept
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

MB = 1e6
# perf symbol (regular expression) -> op group, first match wins.
GROUPS = [
    (r"qd8_f32_qc8w_gemm|qd8_f32_qc4w_gemm|qd8_f32_qb4w_gemm|qs8_qc8w_gemm|"
     r"f32_qc8w_gemm|f32_qc4w_gemm", "FULLY_CONNECTED (int8/int4 weights, XNNPACK)"),
    (r"f32_gemm|f32_igemm|f16_gemm", "FULLY_CONNECTED / BATCH_MATMUL f32 GEMM (XNNPACK)"),
    (r"packw|pack_f32_gemm|pack_qs8|pack_lh|compute_pack", "GEMM operand packing (XNNPACK)"),
    (r"quantize|qd8|f32_qs8_cvt|qdu8", "activation quantization (XNNPACK)"),
    (r"transpose", "TRANSPOSE (XNNPACK)"),
    (r"f32_vmul", "MUL (XNNPACK)"),
    (r"rsum|rdsum", "SUM (XNNPACK)"),
    (r"raddstoreexpminusmax|rmax|vscale|softmax", "SOFTMAX (XNNPACK)"),
    (r"gelu|vtanh", "GELU (XNNPACK)"),
    (r"f32_v(add|sub|sqrdiff|rsqrt|sqrt|div|max|min)|rsqrt|f32_vlrelu|f32_vcopysign",
     "ADD / SUB / layer norm arithmetic (XNNPACK)"),
    (r"dynamic_update_slice", "DYNAMIC_UPDATE_SLICE (builtin)"),
    (r"gather|embedding_lookup", "GATHER (builtin)"),
    (r"select", "SELECT (builtin)"),
    (r"memcpy|memmove|memset", "memcpy / memset"),
    (r"^xnn_|pthreadpool", "XNNPACK runtime (operator dispatch)"),
    (r"tflite::|LiteRt|litert::", "LiteRT runtime (graph, buffers)"),
    (r"^_?Py|^PyObject|^_PyEval|python|^PyList|^PyTuple|^PyDict", "Python"),
    (r"\[k\]|kernel", "kernel (page faults, scheduling)"),
]


def op_group(symbol):
    for pattern, group in GROUPS:
        if re.search(pattern, symbol):
            return group
    return "other"


# === Child: the decode loop perf samples ===
def decode_loop(path, threads, seconds):
    """Run `decode` in place until `seconds` have passed after printing
    READY; print the ms per step."""
    from ai_edge_litert.compiled_model import CompiledModel
    from ai_edge_litert.hardware_accelerator import HardwareAccelerator
    from ai_edge_litert.options import CpuOptions
    from ai_edge_litert.options import Options

    model = CompiledModel.from_file(path, options=Options(
        HardwareAccelerator.CPU, cpu_options=CpuOptions(num_threads=threads)))
    inputs = {n: model.create_input_buffer_by_name("decode", n)
              for n in model.get_signature_list()["decode"]["inputs"]}
    details = model.get_input_tensor_details("decode")
    outputs = {"logits": model.create_output_buffer_by_name("decode", "logits")}
    for name, buffer in inputs.items():
        if name.startswith("kv_cache"):
            buffer.write(np.zeros(details[name]["shape"], "float32"))
            outputs[name] = buffer
    inputs["tokens"].write(np.array([[11]], "int32"))
    for position in range(8):  # warm-up
        inputs["input_pos"].write(np.array([position], "int32"))
        model.run_by_name("decode", inputs, outputs)
    print("READY", flush=True)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        inputs["input_pos"].write(np.array([128 + steps % 32], "int32"))
        model.run_by_name("decode", inputs, outputs)
        steps += 1
    print(f"MS_PER_STEP {1000 * (time.perf_counter() - start) / steps:.4f} {steps}",
          flush=True)


# === Parent ===
def convert_decode(model, quantize, cache_attention):
    from keras_gpt1.export.causal_lm_litert import CausalLMLiteRTModule
    from keras_gpt1.export.litert_conversion import TracedModule

    backbone = model.backbone
    module = CausalLMLiteRTModule(model, backbone.max_sequence_length, {},
                                  cache_attention=cache_attention)
    with TracedModule(module) as traced:
        return traced.convert(quantize, tied_vocabulary_size=backbone.vocabulary_size)


def delegation(path):
    """`{op name: {"xnnpack": n, "builtin": n}}` of the decode graph (the
    interpreter's XNNPACK partitions, walked back from each delegate
    node's outputs to its inputs)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=path, num_threads=1)
    interpreter.allocate_tensors()
    ops = interpreter._get_ops_details()
    original = [o for o in ops if o["op_name"] != "DELEGATE"]
    producer = {t: o for o in original for t in o["outputs"]}
    taken = set()
    for node in (o for o in ops if o["op_name"] == "DELEGATE"):
        stop, stack = set(node["inputs"]), list(node["outputs"])
        while stack:
            tensor = stack.pop()
            if tensor in stop or tensor not in producer:
                continue
            op = producer[tensor]
            if op["index"] in taken:
                continue
            taken.add(op["index"])
            stack.extend(i for i in op["inputs"] if i >= 0)
    table = {}
    for op in original:
        row = table.setdefault(op["op_name"], {"xnnpack": 0, "builtin": 0})
        row["xnnpack" if op["index"] in taken else "builtin"] += 1
    partitions = sum(1 for o in ops if o["op_name"] == "DELEGATE")
    return table, partitions


def traffic(tflite_bytes):
    """Bytes per decode step by op type, from the graph: `{op: {"count",
    "constant_read", "read", "written"}}`."""
    from tensorflow.lite.python import schema_py_generated as schema

    names = {v: k for k, v in vars(schema.BuiltinOperator).items()
             if not k.startswith("_")}
    model = schema.Model.GetRootAs(tflite_bytes, 0)
    graph = model.Subgraphs(0)
    codes = [max(model.OperatorCodes(i).BuiltinCode(),
                 model.OperatorCodes(i).DeprecatedBuiltinCode())
             for i in range(model.OperatorCodesLength())]
    item = {schema.TensorType.FLOAT32: 4, schema.TensorType.INT32: 4,
            schema.TensorType.INT8: 1, schema.TensorType.FLOAT16: 2,
            schema.TensorType.INT64: 8, schema.TensorType.BOOL: 1}

    def size(t):
        tensor = graph.Tensors(int(t))
        return int(np.prod(tensor.ShapeAsNumpy() if tensor.ShapeLength() else [1])) * \
            item.get(tensor.Type(), 4), tensor

    table = {}
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        name = names.get(codes[op.OpcodeIndex()], str(codes[op.OpcodeIndex()]))
        row = table.setdefault(name, {"count": 0, "constant_read": 0, "read": 0,
                                      "written": 0})
        row["count"] += 1
        inputs = [t for t in op.InputsAsNumpy() if t >= 0]
        if name == "DYNAMIC_UPDATE_SLICE":  # in place: the update in, the update out
            update, _ = size(inputs[1])
            row["read"] += update
            row["written"] += update
            continue
        for position, t in enumerate(inputs):
            nbytes, tensor = size(t)
            buffer = model.Buffers(tensor.Buffer())
            if max(buffer.DataLength(), buffer.Size()) > 0:
                if name in ("GATHER", "SLICE", "STRIDED_SLICE") and position == 0:
                    # a lookup: what comes out is what is read (one row)
                    nbytes = sum(size(o)[0] for o in op.OutputsAsNumpy())
                row["constant_read"] += nbytes
            else:
                row["read"] += nbytes
        for t in op.OutputsAsNumpy():
            row["written"] += size(t)[0]
    return table


def perf_profile(path, threads, seconds):
    """`(ms per step, {op group: share}, {symbol: share})` of the decode
    loop, or `(ms per step, None, None)` without perf."""
    child = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--loop", path, "--threads",
         str(threads), "--seconds", str(seconds + 2)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    while True:
        line = child.stdout.readline()
        if not line or line.startswith("READY"):
            break
    groups = symbols = None
    perf = shutil.which("perf")
    if perf:
        with tempfile.TemporaryDirectory() as tmp:
            data = os.path.join(tmp, "perf.data")
            done = subprocess.run([perf, "record", "-e", "cpu-clock", "-F", "1999", "-p",
                                   str(child.pid), "-o", data, "--", "sleep",
                                   str(seconds)], capture_output=True, text=True)
            if done.returncode == 0:
                report = subprocess.run(
                    [perf, "report", "-i", data, "--no-children", "--sort", "sym",
                     "--stdio"], capture_output=True, text=True).stdout
                symbols = {}
                for line in report.splitlines():
                    match = re.match(r"\s*([\d.]+)%\s+(\[.\])\s+(.*)$", line)
                    if match:
                        name = match.group(3).strip()
                        if match.group(2) == "[k]":
                            name = "[k] " + name
                        symbols[name] = symbols.get(name, 0.0) + float(match.group(1)) / 100
                groups = {}
                for name, share in symbols.items():
                    group = op_group(name)
                    groups[group] = groups.get(group, 0.0) + share
    out = child.communicate()[0]
    ms = float(re.search(r"MS_PER_STEP ([\d.]+)", out).group(1))
    return ms, groups, symbols


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quantize", default="int8", choices=("none", "float16", "int8"))
    parser.add_argument("--cache-attention", nargs="+", default=["keras", "litert"],
                        choices=("keras", "litert"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--preset", default="gpt1")
    parser.add_argument("--loop", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.loop:
        decode_loop(args.loop, args.threads, args.seconds)
        return 0

    from benchmarks_timing import machine_description
    from litert_decode import decode_weight_bytes
    from litert_decode import preset_model

    result = {"command": " ".join(["python", "benchmarks/litert_profile.py",
                                   *(sys.argv[1:] if argv is None else argv)]),
              "machine": machine_description(), "quantization": args.quantize,
              "threads": args.threads, "files": {}}
    with tempfile.TemporaryDirectory(prefix="litert-profile-") as tmp:
        model = preset_model(args.preset, tmp)
        backbone = model.backbone
        cache_bytes = (2 * backbone.num_layers * backbone.max_sequence_length
                       * backbone.hidden_dim * 4)
        for form in args.cache_attention:
            print(f"# {args.preset} {args.quantize} decode, cache attention '{form}'",
                  flush=True)
            tflite = convert_decode(model, args.quantize, form)
            path = os.path.join(tmp, f"decode-{form}.tflite")
            with open(path, "wb") as f:
                f.write(tflite)
            weights, _ = decode_weight_bytes(tflite)
            ops, partitions = delegation(path)
            bytes_by_op = traffic(tflite)
            load = [round(x, 2) for x in os.getloadavg()]
            ms, groups, symbols = perf_profile(path, args.threads, args.seconds)
            result["files"][form] = {
                "tflite_mb": len(tflite) / MB, "weight_mb_per_step": weights / MB,
                "kv_cache_mb": cache_bytes / MB, "delegation": ops,
                "xnnpack_partitions": partitions, "bytes_by_op": bytes_by_op,
                "ms_per_step": ms, "load_before": load,
                "load_after": [round(x, 2) for x in os.getloadavg()],
                "op_groups": groups,
                "top_symbols": None if symbols is None else dict(
                    sorted(symbols.items(), key=lambda kv: -kv[1])[:25]),
            }
    print_tables(result)
    if args.json:
        print(json.dumps(result, sort_keys=True))
    return 0


def print_tables(result):
    forms = list(result["files"])
    for form in forms:
        row = result["files"][form]
        print(f"\n## cache attention '{form}': {row['ms_per_step']:.2f} ms/step on "
              f"{result['threads']} thread(s), load {row['load_before']}; "
              f"{row['xnnpack_partitions']} XNNPACK partitions")
        if row["op_groups"]:
            print("| op group | share | ms/step |\n| --- | ---: | ---: |")
            for group, share in sorted(row["op_groups"].items(), key=lambda kv: -kv[1]):
                print(f"| {group} | {100 * share:.1f}% | {share * row['ms_per_step']:.2f} |")
        print("\n| op | ops | XNNPACK | builtin | constants MB | read MB | written MB |\n"
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        bytes_by_op = row["bytes_by_op"]
        for op, moved in sorted(bytes_by_op.items(),
                                key=lambda kv: -(kv[1]["constant_read"] + kv[1]["read"]
                                                 + kv[1]["written"])):
            where = row["delegation"].get(op, {"xnnpack": 0, "builtin": 0})
            print(f"| {op} | {moved['count']} | {where['xnnpack']} | {where['builtin']} | "
                  f"{moved['constant_read'] / MB:.1f} | {moved['read'] / MB:.1f} | "
                  f"{moved['written'] / MB:.1f} |")
        total = {k: sum(m[k] for m in bytes_by_op.values())
                 for k in ("constant_read", "read", "written")}
        print(f"| all | | | | {total['constant_read'] / MB:.1f} | {total['read'] / MB:.1f} "
              f"| {total['written'] / MB:.1f} |")


if __name__ == "__main__":
    raise SystemExit(main())
