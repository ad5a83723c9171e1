"""The lock, understandable (issue 22, item 6): the attempt that locks says so and until
when, for known and unknown names alike; the CRM user tab names the same second."""

import re
from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tests.helpers import login_with_code

# A moment inside a second: the lock's end falls inside a second too.
NOW = datetime(2026, 11, 25, 10, 0, 15, 400_000, tzinfo=UTC)
LOCKED = re.compile(r"Probeer het na (\d\d:\d\d:\d\d) opnieuw")


@pytest.fixture
def at_now(monkeypatch):
    from livits import clock

    monkeypatch.setattr(clock, "now", lambda: NOW)


@pytest.mark.parametrize("username", ["rdewit", "niemand"])
def test_the_attempt_that_locks_says_so_and_until_which_second(
    client, linked_user, admin_user, at_now, username
):
    answers = []
    for _ in range(settings.MFA_LOCK_AFTER):
        page = client.post(
            reverse("accounts:login"), {"username": username, "password": "wrong"}
        ).content.decode()
        answers.append(LOCKED.search(page))
    assert not any(answers[:-1]) and answers[-1]  # the attempt that locks, not one later
    until = answers[-1].group(1)
    assert until == "11:00:17"  # 10:00:15.4 UTC + 1 s = 16.4, rounded up, in Amsterdam
    if username == "rdewit":
        tab = reverse("accounts:person_detail", args=[linked_user.person.pk]) + "?tab=user"
        html = login_with_code(Client(), admin_user).get(tab).content.decode()
        assert f"is geblokkeerd tot 25-11-2026 {until}" in html
