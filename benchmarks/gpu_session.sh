#!/usr/bin/env bash
# The GPU benchmark as one prepared run on a machine that has JAX, PyTorch
# and transformers but neither Keras nor keras-hub nor TensorFlow, and no
# network (keras-gpt1 needs no TensorFlow on JAX).
#
#   bash benchmarks/gpu_session.sh wheels         # here, with the package registry:
#                                                 # Keras, keras-hub, namex, optree -> .whl/
#   bash benchmarks/gpu_session.sh run [PARTS]    # there, with .whl/ beside the checkout:
#                                                 # installs them into /tmp/site, runs
#                                                 # gpu_train_throughput.py --part PARTS
#                                                 # (default: train,levers,generate) and
#                                                 # writes the JSON and the log to $OUT
#                                                 # (or ./gpu-results)
#   GPU_BENCH_ARGS="--dims toy --steps 1" PATH=.venv/bin:$PATH \
#       bash benchmarks/gpu_session.sh run levers    # a smoke test on a CPU
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
wheels)
    # Python 3.12 on x86-64 Linux, the GPU machine's; pure-Python wheels
    # need no platform, optree does.
    python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
        keras==3.15.1 keras-hub==0.32.0 namex==0.1.0 optree==0.20.0
    ls .whl
    ;;
run)
    parts="${2:-train,levers,generate}"
    out="${OUT:-gpu-results}"
    mkdir -p "$out"
    if ! python3 -c "import keras_hub" 2>/dev/null; then
        python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
            --target /tmp/site .whl/*.whl
        export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
    fi
    export PYTHONUNBUFFERED=1
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$out/gpu.txt" 2>&1 || true
    name="gpu_train_throughput-${parts//,/-}"
    # shellcheck disable=SC2086  # GPU_BENCH_ARGS: more flags, e.g. "--dims toy --steps 1"
    python3 benchmarks/gpu_train_throughput.py --part "$parts" --json ${GPU_BENCH_ARGS:-} \
        > "$out/$name.json.partial" 2> "$out/$name.log"
    mv "$out/$name.json.partial" "$out/$name.json"  # only a complete result gets the name
    python3 -c "
import json, sys
r = json.load(open(sys.argv[1]))
for x in r['records']:
    if 'tokens_per_second' in x or 'error' in x:
        print({k: x[k] for k in ('task', 'contender', 'lever', 'batch', 'tokens_per_second',
                                 'mfu', 'vs_nanogpt', 'vs_default_path', 'error') if k in x})
" "$out/$name.json"
    ;;
*)
    echo "usage: bash benchmarks/gpu_session.sh wheels | run [PARTS]" >&2
    exit 2
    ;;
esac
