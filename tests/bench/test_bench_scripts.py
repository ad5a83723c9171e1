"""The benchmark scripts keep running (on tiny data; the figures come from `make bench`)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("script", "args", "expected"),
    [
        ("enrol.py", ["--repeat", "2"], "session while a secret is pending"),
        ("passkey.py", ["--logins", "2"], "sign-in with a passkey (options + assertion)"),
        (
            "reports.py",
            ["--persons", "300", "--repeat", "1"],
            "rows exported, csv (flat: about 1)",
        ),
        ("mail.py", ["--mails", "5", "--repeat", "1"], "outbox: queue + db_worker delivery"),
        ("page.py", ["--requests", "2", "--rounds", "1"], "SQL statements per page, ours"),
        ("sessions.py", [], "1 page a minute later: writes, with records"),
        ("password_forgot.py", ["--requests", "2"], "POST /password/forgot/, unknown e-mail"),
    ],
)
def test_bench_script_prints_its_table(tmp_path, script, args, expected):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(DEBUG="1", DATABASE_URL=f"sqlite:///{tmp_path / 'bench.sqlite3'}")
    env.pop("BENCH_ROWS", None)
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert expected in result.stdout
