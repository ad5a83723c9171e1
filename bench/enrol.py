"""The padlock page (manual 2.1): server time, the share of it spent making the QR, and
the size of the session while a secret is pending.

The session keeps the pending secret only (encrypted); the QR is made again from it
on every render, including after a wrong code. Baselines, measured in this run:
the first render (for the re-render and the QR) and the session before enrolment.
Usage: .venv/bin/python bench/enrol.py [--repeat N]
"""

import argparse
import statistics
import time

from _django import print_table, setup


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    setup("enrol.sqlite3")

    from django.contrib.sessions.models import Session
    from django.test import Client
    from django.urls import reverse

    from accounts.models import Person, User
    from mfa import qr, totp

    user = User.objects.filter(username="enrol-bench").first()
    if user is None:
        person = Person.objects.create(first_name="Enrol", last_name="Bench")
        user = User.objects.create_user("enrol-bench", None, person=person)
    url = reverse("mfa:enrol")

    def ms(function):
        start = time.perf_counter()
        function()
        return (time.perf_counter() - start) * 1000

    def session_bytes(client):
        return len(Session.objects.get(session_key=client.session.session_key).session_data)

    first, rerender, qr_only, before, during = [], [], [], [], []
    Client().get("/login/")  # warm up
    for _ in range(args.repeat):
        client = Client()
        client.force_login(user)  # a new session: a new pending secret
        before.append(session_bytes(client))
        first.append(ms(lambda c=client: c.get(url)))
        rerender.append(ms(lambda c=client: c.post(url, {"code": "000000"})))
        during.append(session_bytes(client))
        uri = totp.otpauth_uri(totp.new_secret(), user.username, "Livits")
        qr_only.append(ms(lambda u=uri: qr.qr_svg(u)))
    first_ms, rerender_ms, qr_ms = map(statistics.median, (first, rerender, qr_only))
    before_b, during_b = statistics.median(before), statistics.median(during)
    rows = [
        ("padlock page, first render (makes the QR)", first_ms, "ms", None, None),
        ("  of which making the QR", qr_ms, "ms", "share of first render", qr_ms / first_ms),
        (
            "padlock page after a wrong code (QR made again)",
            rerender_ms,
            "ms",
            "first render",
            rerender_ms / first_ms,
        ),
        ("session while a secret is pending", during_b, "B", "session before", during_b / before_b),
    ]
    print_table(f"bench/enrol.py: medians of {args.repeat}", rows)


if __name__ == "__main__":
    main()
