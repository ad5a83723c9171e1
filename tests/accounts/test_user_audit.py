"""Every change to a system user leaves an audit record: who, when, from where and what,
never the password (the CRM form; the Django admin is in test_admin_site.py)."""

import io

from django.core.management import call_command
from django.urls import reverse
from django.utils import translation

from accounts.management.commands import changepassword, createsuperuser, demo_data
from accounts.models import User
from audit.models import AuditEvent
from tests.helpers import PASSWORD

NEW_PASSWORD = "Een-lang-wachtwoord-7"


def events(user, action):
    return list(AuditEvent.objects.filter(subject=user, action=action))


def test_a_system_user_created_in_the_crm_is_audited(admin_client, admin_user, person):
    admin_client.post(
        reverse("accounts:system_user_edit", args=[person.pk]),
        {
            "username": "robwit",
            "is_active": "on",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
        REMOTE_ADDR="192.0.2.3",
    )
    user = User.objects.get(username="robwit")
    [event] = events(user, AuditEvent.Action.USER_CREATED)
    assert (event.actor, event.ip, event.at is not None) == (admin_user, "192.0.2.3", True)
    assert event.data == {
        "values": {
            "username": "robwit",
            "person": person.pk,
            "is_active": True,
            "is_hidden": False,
            "is_staff": False,
            "is_superuser": False,
            "groups": [],
            "user_permissions": [],
        },
        "password": "set",
    }
    assert NEW_PASSWORD not in str(event.data) and user.password not in str(event.data)
    with translation.override("nl"):
        assert "gebruikersnaam: robwit" in event.describe()
        assert "wachtwoord ingesteld" in event.describe()


def test_a_change_in_the_crm_is_audited_field_by_field(admin_client, admin_user, system_user):
    admin_client.post(
        reverse("accounts:system_user_edit", args=[system_user.person.pk]),
        {"username": "rob", "is_hidden": "on"},
        REMOTE_ADDR="192.0.2.4",
    )
    [event] = events(system_user, AuditEvent.Action.USER_CHANGED)
    assert (event.actor, event.ip) == (admin_user, "192.0.2.4")
    assert event.data == {
        "changes": {
            "username": {"old": "rdewit", "new": "rob"},
            "is_active": {"old": True, "new": False},
            "is_hidden": {"old": False, "new": True},
        }
    }
    assert not events(system_user, AuditEvent.Action.PASSWORD_SET)  # left empty: kept
    with translation.override("nl"):
        assert "Inloggen als systeemgebruiker: ja → nee" in event.describe()


def test_a_password_set_in_the_crm_is_audited_without_it(admin_client, admin_user, system_user):
    admin_client.post(
        reverse("accounts:system_user_edit", args=[system_user.person.pk]),
        {
            "username": "rdewit",
            "is_active": "on",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
        REMOTE_ADDR="192.0.2.4",
    )
    system_user.refresh_from_db()
    assert system_user.check_password(NEW_PASSWORD)
    [event] = events(system_user, AuditEvent.Action.PASSWORD_SET)
    assert (event.actor, event.ip, event.data) == (admin_user, "192.0.2.4", {"password": "set"})
    assert not events(system_user, AuditEvent.Action.USER_CHANGED)
    assert system_user.password not in str(AuditEvent.objects.values_list("data"))


def test_a_refused_form_records_nothing(admin_client, system_user):
    admin_client.post(
        reverse("accounts:system_user_edit", args=[system_user.person.pk]),
        {"username": "rdewit", "password1": NEW_PASSWORD, "password2": "something else"},
    )
    system_user.refresh_from_db()
    assert system_user.is_active and system_user.check_password(PASSWORD)
    assert not AuditEvent.objects.filter(subject=system_user).exists()


# --- Management commands: no actor, no address, the command's name --------------------


def test_changepassword_is_audited(system_user, monkeypatch):
    monkeypatch.setattr(changepassword.Command, "_get_pass", lambda self, prompt="": NEW_PASSWORD)
    call_command(changepassword.Command(), "rdewit", stdout=io.StringIO())
    system_user.refresh_from_db()
    assert system_user.check_password(NEW_PASSWORD)
    [event] = events(system_user, AuditEvent.Action.PASSWORD_SET)
    assert (event.actor, event.ip) == (None, None)
    assert event.data == {"password": "set", "command": "changepassword"}


def test_createsuperuser_is_audited(db):
    call_command(
        createsuperuser.Command(),
        "--noinput",
        "--username",
        "root",
        stdout=io.StringIO(),
    )
    root = User.objects.get(username="root")
    [event] = events(root, AuditEvent.Action.USER_CREATED)
    assert (event.actor, event.ip) == (None, None)
    assert event.data["values"]["is_superuser"] is True
    assert event.data["password"] == "made unusable" and event.data["command"] == "createsuperuser"


def test_the_demo_users_are_audited_once(db):
    call_command(demo_data.Command(), stdout=io.StringIO())
    call_command(demo_data.Command(), stdout=io.StringIO())  # idempotent: nothing new
    created = AuditEvent.objects.filter(action=AuditEvent.Action.USER_CREATED)
    assert sorted(created.values_list("subject_name", flat=True)) == sorted(
        row[0] for row in demo_data.DEMO_SYSTEM_USERS
    )
    beheerder = created.get(subject_name="beheerder")
    assert beheerder.data["values"]["groups"] == ["Beheerders"]
    assert beheerder.data["command"] == "demo_data"


def test_manage_py_runs_the_audited_commands():
    from django.core.management import get_commands

    assert get_commands()["changepassword"] == get_commands()["createsuperuser"] == "accounts"
