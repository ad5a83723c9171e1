import random
from argparse import ArgumentParser
from datetime import timedelta
from typing import Any

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Person, User
from accounts.services import BEHEERDERS_GROUP, users_audited
from livits import clock
from mfa import crypto, totp
from mfa.models import AuditEvent, Device

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
BATCH = 5000


def bulk_persons(target: int) -> int:
    """Add persons until there are `target`; every fifth one is a system user, three in
    four of those have a device linked (some via a beheerder) and a little audit history."""
    rng = random.Random(target)  # noqa: S311 - reproducible demo data, no secrets
    password = make_password(DEMO_PASSWORD)
    now = clock.now()
    added = 0
    while (missing := target - Person.objects.count()) > 0:
        with transaction.atomic():
            persons = Person.objects.bulk_create(
                Person(
                    first_name=rng.choice(FIRST_NAMES),
                    infix=rng.choice(INFIXES),
                    last_name=rng.choice(LAST_NAMES) + str(rng.randrange(1000)),
                    email=f"relatie{rng.randrange(10**9)}@example.org",
                )
                for _ in range(min(missing, BATCH))
            )
            users = User.objects.bulk_create(
                User(
                    username=f"demo{person.pk}",
                    person=person,
                    password=password,
                    login_count=rng.randrange(500),
                    last_login=now - timedelta(hours=rng.randrange(2000)),
                )
                for person in persons[::5]
            )
            linked = [user for user in users if rng.random() < 0.75]
            created = {user.pk: now - timedelta(days=rng.randrange(1, 400)) for user in linked}
            for user in linked:
                user.mfa_created_at = created[user.pk]
                user.mfa_changed_at = (
                    created[user.pk] + timedelta(days=1) if rng.random() < 0.2 else None
                )
            User.objects.bulk_update(linked, ["mfa_created_at", "mfa_changed_at"])
            Device.objects.bulk_create(
                Device(
                    user=user,
                    slot=1,
                    name="Apparaat 1",
                    secret_encrypted=crypto.encrypt(totp.new_secret()),
                    linked_at=created[user.pk],
                    linked_by=user if rng.random() < 0.9 else users[0],
                )
                for user in linked
            )
            AuditEvent.objects.bulk_create(
                AuditEvent(
                    action=rng.choice(
                        [AuditEvent.Action.LOGIN_CODE, AuditEvent.Action.CODE_FAILED]
                    ),
                    subject=user,
                    subject_name=user.username,
                    at=now - timedelta(days=rng.randrange(60)),
                )
                for user in linked
                for _ in range(3)
            )
            added += len(persons)
    return added
