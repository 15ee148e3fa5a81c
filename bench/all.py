"""Every benchmark in turn (`make bench`), each starting a system of its own, then one table of all of them.

Options are passed on to every benchmark (e.g. `--seconds 10`, `--record ignis`); a benchmark that fails is
named at the end and the exit status is 1.

    python bench/all.py [--seconds 60] [--record ignis]
"""

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import harness

BENCHES = ("tool_latency.py", "scheduler_latency.py", "sms_latency.py")


def main() -> None:
    if {"-h", "--help"} & set(sys.argv[1:]):
        sys.exit(print(__doc__))
    began, failed, rows, notes = time.monotonic(), [], [], []
    with tempfile.TemporaryDirectory(prefix="ignis-bench-") as folder:
        results = Path(folder) / "results.jsonl"
        for bench in BENCHES:
            print(f"\n=== {bench} {' '.join(sys.argv[1:])}", flush=True)
            argv = [
                sys.executable,
                str(Path(__file__).with_name(bench)),
                *sys.argv[1:],
                "--results",
                str(results),
            ]
            if subprocess.run(argv, check=False).returncode != 0:
                failed.append(bench)
        for line in results.read_text().splitlines() if results.exists() else []:
            result = json.loads(line)
            rows += result["rows"]
            notes += result["notes"]
    print(f"\n## All benchmarks ({time.monotonic() - began:.0f} s)\n")
    print(harness.markdown(rows) if rows else "(no results)")
    print("".join(f"\n- {note}" for note in notes))
    if failed:
        print(f"\nFailed: {', '.join(failed)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
