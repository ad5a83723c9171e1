from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Person, User
from accounts.services import BEHEERDERS_GROUP

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

    @transaction.atomic
    def handle(self, *args, **options):
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
