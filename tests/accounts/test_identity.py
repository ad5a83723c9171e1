"""One identity per username: canonical_username, the stored column, its constraint,
the form, and the migration that adds the column."""

import pytest
from django.core.management import CommandError
from django.db import IntegrityError, connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from accounts.models import Person, User, canonical_username
from tests.helpers import PASSWORD


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("RdeWit", "rdewit"),
        ("  rdewit\t", "rdewit"),
        ("\u017fabine", "sabine"),  # long s
        ("\u212aees", "kees"),  # Kelvin sign
        ("\uff52\uff44\uff45\uff57\uff49\uff54", "rdewit"),  # full-width
        ("\ufb01ona", "fiona"),  # fi ligature
        ("Stra\u00dfe", "strasse"),
        ("rdew\u0131t", "rdew\u0131t"),  # dotless i stays itself: another name
        ("rdew\u0130t", "rdewi\u0307t"),  # capital I with dot: i + combining dot, another name
    ],
)
def test_canonical_username(typed, canonical):
    assert canonical_username(typed) == canonical
    assert canonical_username(canonical) == canonical  # a fixed point


@pytest.mark.parametrize("twin", ["RDEWIT", "\uff52\uff44\uff45\uff57\uff49\uff54", " rdewit"])
def test_the_database_refuses_a_second_spelling_of_a_username(system_user, twin):
    other = Person.objects.create(first_name="X", last_name="Y")
    with pytest.raises(IntegrityError):
        User.objects.create_user(twin, PASSWORD, person=other)


def test_the_database_refuses_a_colon_in_a_username(person):
    # the shell skips form validation; the database does not
    with pytest.raises(IntegrityError):
        User.objects.create_user("rob:wit", PASSWORD, person=person)


def test_bulk_created_users_get_their_canonical_name_too(db):
    person = Person.objects.create(first_name="B", last_name="Ulk")
    User.objects.bulk_create([User(username="BULK", person=person)])
    assert User.objects.get().username_canonical == "bulk"


@pytest.mark.parametrize("twin", ["RDEWIT", "\uff52\uff44\uff45\uff57\uff49\uff54"])
def test_the_form_names_the_field_when_the_spelling_is_taken(admin_client, system_user, twin):
    other = Person.objects.create(first_name="Other", last_name="Person")
    response = admin_client.post(
        reverse("accounts:system_user_edit", args=[other.pk]),
        {"username": twin, "password1": "x", "password2": "x"},
    )
    assert response.context["form"].has_error("username", "username_taken")


def test_the_form_refuses_a_colon(admin_client, person):
    response = admin_client.post(
        reverse("accounts:system_user_edit", args=[person.pk]),
        {"username": "rob:wit", "password1": "Een-lang-wachtwoord-7", "password2": "x"},
    )
    assert response.context["form"].has_error("username")
    assert not User.objects.filter(person=person).exists()


@pytest.mark.django_db(transaction=True)
def test_the_migration_stops_on_two_spellings_of_one_name_and_changes_nothing():
    executor = MigrationExecutor(connection)
    before, latest = (
        [("accounts", "0002_user_mfa_changed_at_user_mfa_created_at")],
        [("accounts", "0003_user_username_canonical")],
    )
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before[0]).apps
        Person, User = old.get_model("accounts", "Person"), old.get_model("accounts", "User")
        for username in ("Stra\u00dfe", "strasse", "rdewit"):
            person = Person.objects.create(first_name="", last_name=username)
            User.objects.create(username=username, person=person, password="x")
        executor = MigrationExecutor(connection)
        with pytest.raises(CommandError) as error:
            executor.migrate(latest)
        message = str(error.value)
        assert "'Straße'" in message and "'strasse'" in message and "rdewit" not in message
        with connection.cursor() as cursor:
            columns = [
                c.name
                for c in connection.introspection.get_table_description(cursor, "accounts_user")
            ]
        assert "username_canonical" not in columns
        assert User.objects.count() == 3
        User.objects.filter(username="strasse").delete()
        MigrationExecutor(connection).migrate(latest)
        with connection.cursor() as cursor:
            cursor.execute("SELECT username, username_canonical FROM accounts_user")
            assert dict(cursor.fetchall()) == {"Straße": "strasse", "rdewit": "rdewit"}
    finally:
        MigrationExecutor(connection).migrate(
            MigrationExecutor(connection).loader.graph.leaf_nodes()
        )
