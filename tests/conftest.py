from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group

from accounts.models import Person, User
from accounts.services import BEHEERDERS_GROUP
from mfa import services as mfa_services
from mfa import totp

PASSWORD = "Correct-horse-42"


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    # Argon2 (the production hasher) costs ~0.2 s per check; tests that are not
    # about hashing use a fast one. tests/accounts/test_models.py checks Argon2.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def person(db):
    return Person.objects.create(
        first_name="Rob", infix="de", last_name="Wit", email="rob@example.org"
    )


@pytest.fixture
def system_user(person):
    return User.objects.create_user("rdewit", PASSWORD, person=person)


@pytest.fixture
def admin_user(db):
    person = Person.objects.create(first_name="Sabrina", last_name="Boetzkes")
    user = User.objects.create_user("beheerder", PASSWORD, person=person)
    user.groups.add(Group.objects.get(name=BEHEERDERS_GROUP))
    return user


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def user_client(client, system_user):
    client.force_login(system_user)
    return client


@pytest.fixture
def frozen_now():
    """A fixed moment in the middle of a 30-second TOTP step."""
    return datetime(2026, 11, 25, 10, 0, 15, tzinfo=UTC)


@pytest.fixture
def secret():
    return totp.new_secret()


def code_at(secret, now, steps=0):
    return totp.code_at_step(secret, totp.step_at(now) + steps)


@pytest.fixture
def linked_user(system_user, secret, frozen_now):
    """rdewit with one device, linked a minute before `frozen_now`."""
    linked_at = frozen_now - timedelta(minutes=1)
    mfa_services.device_link(
        user=system_user,
        secret=secret,
        code=code_at(secret, linked_at),
        by=system_user,
        ip="192.0.2.1",
        now=linked_at,
    )
    system_user.refresh_from_db()
    return system_user
