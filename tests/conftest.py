import pytest
from django.contrib.auth.models import Group

from accounts.models import Person, User
from accounts.services import BEHEERDERS_GROUP

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
