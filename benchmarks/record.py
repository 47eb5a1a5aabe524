"""Run a benchmark script with `--json` and keep its raw result.

    cd benchmarks && python record.py train_throughput.py --dims gpt1_width

Prints the script's own output, then writes its last stdout line (the JSON
that `--json` adds) to `results/<script>[-<args>].json`, with the command,
the date and the machine (CPU model, flags, cores, load average, library
versions), so every figure in docs/ has its raw output beside its command.
"""

import datetime
import json
import os
import subprocess
import sys

from benchmarks_timing import machine_description

HERE = os.path.dirname(os.path.abspath(__file__))


def result_name(script, args):
    stem = os.path.splitext(os.path.basename(script))[0]
    flags = "-".join(a.lstrip("-").replace("/", "_") for a in args)
    return f"{stem}-{flags}.json" if flags else f"{stem}.json"


def main(argv):
    if not argv:
        sys.exit(__doc__)
    script, args = argv[0], argv[1:]
    machine_before = machine_description()
    process = subprocess.run([sys.executable, script, *args, "--json"], cwd=HERE,
                             stdout=subprocess.PIPE, text=True, check=False)
    sys.stdout.write(process.stdout)
    if process.returncode:
        sys.exit(process.returncode)
    result = json.loads(process.stdout.strip().splitlines()[-1])
    record = {"command": f"cd benchmarks && python {' '.join([script, *args])} --json",
              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="minutes"),
              "machine_before": machine_before, "machine_after": machine_description(),
              "result": result}
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    path = os.path.join(HERE, "results", result_name(script, args))
    with open(path, "w", encoding="utf-8") as f:
        json.dump(record, f, indent=1)
    print(f"raw result: benchmarks/results/{os.path.basename(path)}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
