"""`make bench`: every benchmark in turn, then one table of all their rows.

The login, report and mail benchmarks run twice: on SQLite (the embedded default) and on the
local PostgreSQL (BENCH_POSTGRES, default postgres://postgres@127.0.0.1:5432/livits_bench;
the login and mail benches use the same name with `_login` and `_mail` appended).
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
POSTGRES = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432/livits_bench")
# the login bench adds users: its own database keeps the reports' data set as seeded
LOGIN_POSTGRES = f"{POSTGRES}_login"
BENCHES = [
    ("login.py, SQLite", ["login.py"]),
    ("login.py, PostgreSQL", ["login.py", "--database-url", LOGIN_POSTGRES]),
    ("passkey.py, SQLite", ["passkey.py"]),
    ("enrol.py, SQLite", ["enrol.py"]),
    ("reports.py, SQLite", ["reports.py"]),
    ("reports.py, PostgreSQL", ["reports.py", "--database-url", POSTGRES]),
    ("load.py, gunicorn on PostgreSQL + Redis", ["load.py"]),
    ("mail.py, SQLite", ["mail.py"]),
    ("password_forgot.py, SQLite", ["password_forgot.py"]),
    ("mail.py, PostgreSQL", ["mail.py", "--database-url", f"{POSTGRES}_mail"]),
]


def main():
    failed = []
    with tempfile.NamedTemporaryFile("r", suffix=".tsv") as rows:
        env = dict(os.environ, BENCH_ROWS=rows.name)
        for label, (script, *args) in BENCHES:
            with open(rows.name, "a", encoding="utf-8") as handle:
                handle.write(f"# {label}\n")
            if subprocess.run([sys.executable, str(HERE / script), *args], env=env).returncode:
                failed.append(label)
        lines = [line.rstrip("\n") for line in rows]
    print("\nmake bench: all benchmarks (ratios against baselines measured in the same run)")
    print(f"{'measure':60} {'value':>10}  {'ratio':>7}  against")
    for line in lines:
        if line.startswith("# "):
            print(f"\n{line[2:]}")
            continue
        name, value, unit, baseline, ratio = line.split("\t")
        print(f"{name:60} {float(value):8.1f} {unit:2}  {ratio:>7}  {baseline}")
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
