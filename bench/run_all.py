"""`make bench`: every benchmark in turn, then one table of all their rows."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = ["login.py", "passkey.py", "enrol.py", "reports.py", "load.py"]


def main():
    with tempfile.NamedTemporaryFile("r", suffix=".tsv") as rows:
        env = dict(os.environ, BENCH_ROWS=rows.name)
        failed = [
            name
            for name in BENCHES
            if subprocess.run([sys.executable, str(HERE / name)], env=env).returncode != 0
        ]
        lines = [line.rstrip("\n").split("\t") for line in rows]
    print("\nmake bench: all benchmarks (ratios against baselines measured in the same run)")
    print(f"{'measure':52} {'value':>10}  {'ratio':>7}  against")
    for name, value, unit, baseline, ratio in lines:
        print(f"{name:52} {float(value):8.1f} {unit:2}  {ratio:>7}  {baseline}")
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
