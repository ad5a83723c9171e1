import io

import pytest
from django.db import IntegrityError, connection

from accounts.models import Person, User, informal_name, sort_name
from livits import settings as project_settings


@pytest.mark.parametrize(
    ("parts", "informal", "sortable"),
    [
        (("Rob", "de", "Wit"), "Rob de Wit", "Wit, Rob de"),
        (("Pieter", "", "Willemsen"), "Pieter Willemsen", "Willemsen, Pieter"),
        (("Marieke", "van der", "Berg"), "Marieke van der Berg", "Berg, Marieke van der"),
        (("", "", "Jacobs"), "Jacobs", "Jacobs"),
        (("", "de", "Vries"), "de Vries", "Vries, de"),
    ],
)
def test_names_follow_dutch_sorting(parts, informal, sortable):
    assert informal_name(*parts) == informal
    assert sort_name(*parts) == sortable


def test_rel_code_is_unique_and_generated(db):
    first = Person.objects.create(first_name="A", last_name="B")
    second = Person.objects.create(first_name="A", last_name="B")
    assert first.rel_code and second.rel_code and first.rel_code != second.rel_code


def test_username_is_unique_in_any_case(system_user):
    other = Person.objects.create(first_name="X", last_name="Y")
    with pytest.raises(IntegrityError):
        User.objects.create_user("RDEWIT", "whatever-123", person=other)


def test_person_has_at_most_one_system_user(system_user):
    with pytest.raises(IntegrityError):
        User.objects.create_user("another", "whatever-123", person=system_user.person)


def test_database_refuses_a_person_without_last_name(db):
    with pytest.raises(IntegrityError):
        Person.objects.create(first_name="Nameless", last_name="")


def test_argon2_is_the_first_password_hasher():
    assert project_settings.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")


def test_passwords_are_stored_as_argon2_hashes(person, settings):
    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS
    user = User.objects.create_user("argon", "Correct-horse-42", person=person)
    with connection.cursor() as cursor:
        cursor.execute("SELECT password FROM accounts_user WHERE id = %s", [user.pk])
        (stored,) = cursor.fetchone()
    assert stored.startswith("argon2$")


def test_createsuperuser_noinput_gives_a_full_admin(db, monkeypatch):
    from django.core.management import call_command

    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "root")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "A-long-enough-password-1")
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "root@example.org")
    call_command("createsuperuser", "--noinput", verbosity=0)
    user = User.objects.get(username="root")
    assert user.is_superuser and user.is_staff and user.is_active
    assert user.check_password("A-long-enough-password-1")
    assert user.has_perm("accounts.delete_person")


def test_demo_data_is_idempotent(db):
    from django.core.management import call_command

    call_command("demo_data", stdout=io.StringIO())
    counts = (Person.objects.count(), User.objects.count())
    call_command("demo_data", stdout=io.StringIO())
    assert (Person.objects.count(), User.objects.count()) == counts
    assert User.objects.get(username="beheerder").has_perm("accounts.change_user")
    names = set(Person.objects.values_list("last_name", flat=True))
    assert {"Willemsen", "Jacobs", "Wit", "Vries", "Jong"} <= names
