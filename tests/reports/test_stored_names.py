"""The names and the search text stored beside each user's figures (migration 0009,
reports.figures): they follow every change of a person or user, also when two writers
change them side by side. (What pages read from them: tests/reports/test_figures.py's
property test, and tests/reports/test_indexes.py.)"""

import threading

import pytest
from django.db import connections

from accounts.models import Person, User
from reports import selectors
from reports.keyset import Order
from reports.models import UserFigures

from .postgres import figures_pg, wait_for_lock_wait


@figures_pg("the names and search text stored beside them")
@pytest.mark.django_db
def test_the_stored_names_and_search_text_follow_every_change_of_a_person_or_user(frozen_now):
    """Migration 0009's triggers: a new user, a person renamed (each part), a username
    changed, a user given another person, and a person inserted after its user in the
    same transaction (the key is checked at commit) leave the names and the search text
    beside the user's figures as the person and the user say."""

    def stored(user):
        names = UserFigures.objects.values_list(
            "person_first_name", "person_infix", "person_last_name", "search"
        ).get(user=user)
        return dict(zip(("first_name", "infix", "last_name", "search"), names, strict=True))

    def expected(first, infix, last, username):
        search = f"{first} {infix} {last} {username}".upper()
        return {"first_name": first, "infix": infix, "last_name": last, "search": search}

    person = Person.objects.create(first_name="Anne", infix="de", last_name="Wit")
    user = User.objects.create(username="awit", password="!", person=person)
    assert stored(user) == expected("Anne", "de", "Wit", "awit")
    for part, value in (("first_name", "Bea"), ("infix", "van"), ("last_name", "Dam")):
        Person.objects.filter(pk=person.pk).update(**{part: value})
    assert stored(user) == expected("Bea", "van", "Dam", "awit")
    user.username = "bdam"
    user.save()
    assert stored(user) == expected("Bea", "van", "Dam", "bdam")
    other = Person.objects.create(first_name="Cor", last_name="Vos")
    User.objects.filter(pk=user.pk).update(person=other)
    assert stored(user) == expected("Cor", "", "Vos", "bdam")
    later = User.objects.create(username="later", password="!", person_id=other.pk + 1000)
    assert stored(later) == {"first_name": "", "infix": "", "last_name": "", "search": ""}
    Person.objects.create(pk=other.pk + 1000, first_name="Dirk", last_name="Laat")
    assert stored(later) == expected("Dirk", "", "Laat", "later")
    searched = selectors.page(
        frozen_now, fields=["id"], order=Order(("last_name", "id"), False), search="laat dirk"
    )
    assert [row["id"] for row in searched.rows] == [later.pk]


# What two writers do side by side (READ COMMITTED): the first writes and holds its
# transaction open, the second runs until it waits for a lock or ends, then the first
# commits. Persons "Oud Naam" (the first) and "Ander Mens" (the second, the user's).
RENAME_FIRST = (
    "UPDATE accounts_person SET first_name = 'Nieuw', last_name = 'Hernoemd' WHERE id = %(first)s"
)
RENAME_SECOND = (
    "UPDATE accounts_person SET first_name = 'Nieuw', last_name = 'Hernoemd' WHERE id = %(second)s"
)
LINK = "UPDATE accounts_user SET person_id = %(first)s WHERE id = %(user)s"
RENAME_USER = "UPDATE accounts_user SET username = 'nieuwnaam' WHERE id = %(user)s"


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("first", "second"),
    [(RENAME_FIRST, LINK), (RENAME_SECOND, RENAME_USER), (RENAME_USER, RENAME_SECOND)],
    ids=["rename-then-link", "rename-then-username", "username-then-rename"],
)
def test_a_rename_beside_a_change_of_the_user_leaves_the_stored_names_of_both(first, second):
    """Each trigger read the other table in its own snapshot: a person renamed while a
    user was linked to them, or while the username changed, left the old names or the
    old username in the stored search text and name order (outside review). The user's
    trigger now reads the person FOR SHARE: it waits for a rename under way, and a
    rename waits for it."""
    people = [
        Person.objects.create(first_name=first_name, last_name=last_name)
        for first_name, last_name in (("Oud", "Naam"), ("Ander", "Mens"))
    ]
    user = User.objects.create(username="oudnaam", password="!", person=people[1])
    names = {"first": people[0].pk, "second": people[1].pk, "user": user.pk}
    writers = [connections.create_connection("default") for _ in range(2)]
    try:
        for writer in writers:
            writer.set_autocommit(False)
            writer.inc_thread_sharing()
        with writers[0].cursor() as cursor:
            cursor.execute(first, names)
        with writers[1].cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (pid,) = cursor.fetchone()

        def second_writer():
            with writers[1].cursor() as cursor:
                cursor.execute(second, names)
            writers[1].commit()

        thread = threading.Thread(target=second_writer)
        thread.start()
        wait_for_lock_wait(pid, thread)
        writers[0].commit()
        thread.join()
    finally:
        for writer in writers:
            writer.close()
    user.refresh_from_db()
    person = Person.objects.get(pk=user.person_id)
    stored = UserFigures.objects.values_list("person_first_name", "person_last_name", "search").get(
        user=user
    )
    text = f"{person.first_name} {person.infix} {person.last_name} {user.username}"
    assert stored == (person.first_name, person.last_name, text.upper())
