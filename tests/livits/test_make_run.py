"""`make run` prints the address where everything works, passkeys included, and serves
there (issue 22, item 10)."""

import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def test_make_run_prints_and_serves_the_address_passkeys_work_on():
    shown = subprocess.run(
        ["make", "-n", "run", "PORT=8123"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    printed = re.search(r"Livits backoffice: (\S+)", shown)
    served = re.search(r"manage\.py runserver (\S+)", shown)
    assert printed and served
    url = urlsplit(printed.group(1))
    assert (url.hostname, url.port) == (settings.MFA_WEBAUTHN_RP_ID, 8123)
    assert served.group(1) == f"{url.hostname}:{url.port}"
