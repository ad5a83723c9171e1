import json
import random
from argparse import ArgumentParser
from datetime import timedelta
from typing import Any

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import JSONField, Max, Model

from accounts.models import Person, User, canonical_username
from accounts.services import BEHEERDERS_GROUP, users_audited
from audit.models import AuditEvent
from livits import clock
from mfa import crypto, totp
from mfa.models import Device

# Demo data only: these passwords are listed in the README and must never be
# used for a real installation.
DEMO_PASSWORD = "Livits-demo-2026"
DEMO_SYSTEM_USERS = [
    # username, first name, infix, last name, beheerder
    ("beheerder", "Sabrina", "", "Boetzkes", True),
    ("pwillemsen", "Pieter", "", "Willemsen", False),
    ("jjacobs", "John", "", "Jacobs", False),
    ("rdewit", "Rob", "de", "Wit", False),
    ("rdevries", "Ricardo", "de", "Vries", False),
    ("adejong", "Astrid", "de", "Jong", False),
]
DEMO_RELATIONS = [
    ("Marieke", "van der", "Berg", Person.RelationType.MEMBER, Person.MemberStatus.ACTIVE),
    ("Henk", "", "Bakker", Person.RelationType.DONOR, Person.MemberStatus.NONE),
    ("Fatima", "el", "Amrani", Person.RelationType.VOLUNTEER, Person.MemberStatus.ACTIVE),
    ("Jan", "van", "Dijk", Person.RelationType.MEMBER, Person.MemberStatus.CANCELLED),
]


class Command(BaseCommand):
    help = "Load the demo persons and system users (idempotent)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--persons",
            type=int,
            default=0,
            help="grow the CRM to this many persons: a fifth are system users, most with MFA "
            "devices and audit history (for demos and bench/reports.py)",
        )

    def handle(self, *args: Any, persons: int, **options: Any) -> None:
        with users_audited(command="demo_data"):
            self.load_demo()
        if persons:
            created = bulk_persons(persons)
            self.stdout.write(f"Bulk demo data: {created} persons added, {persons} wanted.")

    @transaction.atomic
    def load_demo(self) -> None:
        beheerders = Group.objects.get(name=BEHEERDERS_GROUP)
        for username, first, infix, last, is_admin in DEMO_SYSTEM_USERS:
            if User.objects.filter(username__iexact=username).exists():
                continue
            person = Person.objects.create(
                first_name=first,
                infix=infix,
                last_name=last,
                email=f"{username}@example.org",
                relation_type=Person.RelationType.EMPLOYEE,
            )
            user = User.objects.create_user(username, DEMO_PASSWORD, person=person)
            if is_admin:
                user.groups.add(beheerders)
        for first, infix, last, relation_type, status in DEMO_RELATIONS:
            Person.objects.get_or_create(
                first_name=first,
                infix=infix,
                last_name=last,
                defaults={"relation_type": relation_type, "member_status": status},
            )
        names = ", ".join(row[0] for row in DEMO_SYSTEM_USERS)
        self.stdout.write(f"Demo logins: {names} (password: {DEMO_PASSWORD})")


FIRST_NAMES = ["Anna", "Bram", "Daan", "Emma", "Fleur", "Jan", "Lotte", "Noah", "Sanne", "Sem"]
INFIXES = ["", "", "", "de", "van", "van der", "van den", "ter"]
LAST_NAMES = ["Jansen", "Bakker", "Visser", "Smit", "Meijer", "Mulder", "Bos", "Vos", "Dekker"]
BATCH = 50_000  # persons per transaction: a multiple of 5, so every fifth is a system user
Values = dict[str, Any]


def bulk_persons(target: int) -> int:
    """Add persons until there are `target`; every fifth one is a system user, three in
    four of those have a device linked (some via a beheerder) and a little audit history.

    The rows are written with their primary keys chosen here, by COPY on PostgreSQL and
    one executemany per table elsewhere (a million persons in minutes, not hours); the
    sequences are moved past them afterwards."""
    rng = random.Random(target)  # noqa: S311 - reproducible demo data, no secrets
    password = make_password(DEMO_PASSWORD)
    now = clock.now()
    added = 0
    while (missing := target - Person.objects.count()) > 0:
        with transaction.atomic():
            _lock(Person, User, Device, AuditEvent)
            ids = {model: _next_id(model) for model in (Person, User, Device, AuditEvent)}
            persons: list[Values] = []
            users: list[Values] = []
            devices: list[Values] = []
            events: list[Values] = []
            for number in range(min(missing, BATCH)):
                person_id = ids[Person] + number
                persons.append(
                    {
                        "id": person_id,
                        "first_name": rng.choice(FIRST_NAMES),
                        "infix": rng.choice(INFIXES),
                        "last_name": rng.choice(LAST_NAMES) + str(rng.randrange(1000)),
                        "email": f"relatie{rng.randrange(10**9)}@example.org",
                        "created_at": now,
                    }
                )
                if number % 5:
                    continue
                user_id = ids[User] + len(users)
                username = f"demo{person_id}"
                user: Values = {
                    "id": user_id,
                    "person_id": person_id,
                    "username": username,
                    "username_canonical": canonical_username(username),
                    "password": password,
                    "login_count": rng.randrange(500),
                    "last_login": now - timedelta(hours=rng.randrange(2000)),
                    "date_joined": now,
                }
                users.append(user)
                if rng.random() >= 0.75:
                    continue
                created = now - timedelta(days=rng.randrange(1, 400))
                user["mfa_created_at"] = created
                if rng.random() < 0.2:
                    user["mfa_changed_at"] = created + timedelta(days=1)
                devices.append(
                    {
                        "id": ids[Device] + len(devices),
                        "user_id": user_id,
                        "slot": 1,
                        "name": "Apparaat 1",
                        "secret_encrypted": crypto.encrypt(totp.new_secret()),
                        "linked_at": created,
                        "linked_by_id": user_id if rng.random() < 0.9 else users[0]["id"],
                    }
                )
                for _ in range(3):
                    events.append(
                        {
                            "id": ids[AuditEvent] + len(events),
                            "action": rng.choice(
                                [AuditEvent.Action.LOGIN_CODE, AuditEvent.Action.CODE_FAILED]
                            ),
                            "subject_id": user_id,
                            "subject_name": username,
                            "at": now - timedelta(days=rng.randrange(60)),
                        }
                    )
            for model, rows in ((Person, persons), (User, users), (Device, devices)):
                _insert(model, rows)
            _insert(AuditEvent, events)
            _reset_sequences(Person, User, Device, AuditEvent)
            added += len(persons)
    return added


def _lock(*models: type[Model]) -> None:
    """No other writer takes primary keys from under us (SQLite: the transaction does)."""
    if connection.vendor == "postgresql":
        tables = ", ".join(connection.ops.quote_name(model._meta.db_table) for model in models)
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {tables} IN SHARE ROW EXCLUSIVE MODE")


def _next_id(model: type[Model]) -> int:
    return int(model._default_manager.aggregate(last=Max("pk"))["last"] or 0) + 1


def _insert(model: type[Model], rows: list[Values]) -> None:
    """Insert `rows` (field attnames to values; the fields' defaults for the rest)."""
    if not rows:
        return
    fields = model._meta.concrete_fields
    defaults = {field.attname: field.get_default() for field in fields}
    columns = ", ".join(connection.ops.quote_name(str(field.column)) for field in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            raw = cursor.cursor  # psycopg's own cursor: COPY
            with raw.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(
                        [
                            _copy_value(field, row.get(field.attname, defaults[field.attname]))
                            for field in fields
                        ]
                    )
            return
        cursor.executemany(
            # names from the model's meta, values as parameters
            f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})",  # noqa: S608
            [
                [
                    field.get_db_prep_save(
                        row.get(field.attname, defaults[field.attname]), connection
                    )
                    for field in fields
                ]
                for row in rows
            ],
        )


def _copy_value(field: Any, value: Any) -> Any:
    if isinstance(field, JSONField):
        return json.dumps(value)
    return value


def _reset_sequences(*models: type[Model]) -> None:
    statements = connection.ops.sequence_reset_sql(no_style(), list(models))
    if statements:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
