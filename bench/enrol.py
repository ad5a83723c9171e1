"""The padlock page (manual 2.1): server time, and the share of it spent making the QR.

The QR of a pending secret is made once: a wrong code re-renders the page from the
QR kept (encrypted) in the session. Baseline: the first render, which makes the QR.
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

    from django.test import Client
    from django.urls import reverse

    from accounts.models import Person, User
    from mfa import qr, totp, views

    user = User.objects.filter(username="enrol-bench").first()
    if user is None:
        person = Person.objects.create(first_name="Enrol", last_name="Bench")
        user = User.objects.create_user("enrol-bench", None, person=person)
    made = []
    make = views.qr_svg
    views.qr_svg = lambda uri: made.append(uri) or make(uri)
    url = reverse("mfa:enrol")

    def ms(function):
        start = time.perf_counter()
        function()
        return (time.perf_counter() - start) * 1000

    first, rerender, qr_only = [], [], []
    Client().get("/login/")  # warm up
    for _ in range(args.repeat):
        client = Client()
        client.force_login(user)  # a new session: a new pending secret
        first.append(ms(lambda c=client: c.get(url)))
        rerender.append(ms(lambda c=client: c.post(url, {"code": "000000"})))
        uri = totp.otpauth_uri(totp.new_secret(), user.username, "Livits")
        qr_only.append(ms(lambda u=uri: qr.qr_svg(u)))
    first_ms, rerender_ms, qr_ms = map(statistics.median, (first, rerender, qr_only))
    rows = [
        ("padlock page, first render (makes the QR)", first_ms, "ms", None, None),
        ("  of which making the QR", qr_ms, "ms", "share of first render", qr_ms / first_ms),
        (
            "padlock page after a wrong code",
            rerender_ms,
            "ms",
            "first render",
            rerender_ms / first_ms,
        ),
        ("QRs made per pending secret", len(made) / args.repeat, "", None, None),
    ]
    print_table(f"bench/enrol.py: medians of {args.repeat}", rows)


if __name__ == "__main__":
    main()
