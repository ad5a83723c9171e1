"""The Django admin obeys the backoffice's rules: no side door to superuser."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.utils import translation

from accounts.models import Person, User
from accounts.services import BEHEERDERS_GROUP
from audit.models import AuditEvent
from tests.helpers import PASSWORD


@pytest.fixture
def staff_beheerder(admin_client, admin_user):
    admin_user.is_staff = True
    admin_user.save()
    return admin_client


def change_url(user):
    return f"/admin/accounts/user/{user.pk}/change/"


def test_a_beheerder_cannot_make_himself_superuser_in_the_admin(staff_beheerder, admin_user):
    response = staff_beheerder.post(
        change_url(admin_user),
        {
            "username": admin_user.username,
            "person": admin_user.person.pk,
            "is_active": "on",
            "is_staff": "on",
            "is_superuser": "on",
            "groups": [Group.objects.get(name=BEHEERDERS_GROUP).pk],
        },
    )
    assert response.status_code in (200, 302)
    admin_user.refresh_from_db()
    assert not admin_user.is_superuser
    page = staff_beheerder.get(change_url(admin_user)).content.decode()
    assert 'name="is_superuser"' not in page and 'name="groups"' not in page


def test_a_superusers_page_does_not_open_for_a_beheerder(staff_beheerder):
    root = User.objects.create_superuser("root", "A-long-enough-password-1")
    assert staff_beheerder.get(change_url(root)).status_code in (302, 403)
    response = staff_beheerder.post(
        change_url(root), {"username": "hacked", "person": root.person.pk, "is_active": ""}
    )
    assert response.status_code in (302, 403)
    root.refresh_from_db()
    assert root.username == "root" and root.is_active


def test_nobody_deletes_through_the_admin(staff_beheerder, system_user, admin_user):
    admin_user.user_permissions.add(*Permission.objects.filter(codename="delete_user"))
    url = f"/admin/accounts/user/{system_user.pk}/delete/"
    assert staff_beheerder.post(url, {"post": "yes"}).status_code in (302, 403)
    assert User.objects.filter(pk=system_user.pk).exists()


def test_a_superuser_still_gives_rights_in_the_admin(client, system_user):
    root = User.objects.create_superuser("root", "A-long-enough-password-1")
    client.force_login(root)
    client.post(
        change_url(system_user),
        {
            "username": "rdewit",
            "person": system_user.person.pk,
            "is_active": "on",
            "is_staff": "on",
        },
    )
    system_user.refresh_from_db()
    assert system_user.is_staff


# --- Another spelling of a taken username: a form error, as in the CRM (F5) -------------


@pytest.fixture
def root_client(client, db):
    root = User.objects.create_superuser("root", "A-long-enough-password-1")
    client.force_login(root)
    return client


def test_adding_another_spelling_of_a_taken_name_is_a_form_error(root_client, admin_user):
    other = Person.objects.create(first_name="Bea", last_name="Heer")
    response = root_client.post(
        "/admin/accounts/user/add/",
        {"username": "BEHEERDER", "person": other.pk, "is_active": "on"},
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors.as_data()["username"]
    assert [error.code for error in errors] == ["username_taken"]
    assert "Deze gebruikersnaam is al in gebruik." in response.content.decode()
    assert not User.objects.filter(person=other).exists()


def test_renaming_to_another_spelling_of_a_taken_name_is_a_form_error(
    root_client, admin_user, system_user
):
    response = root_client.post(
        change_url(system_user),
        {"username": "Beheerder", "person": system_user.person.pk, "is_active": "on"},
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors.as_data()["username"]
    assert [error.code for error in errors] == ["username_taken"]
    system_user.refresh_from_db()
    assert system_user.username == "rdewit"


# --- Every change in the admin is audited (F6) ------------------------------------------


def test_a_user_added_in_the_admin_is_audited(root_client):
    other = Person.objects.create(first_name="Bea", last_name="Heer")
    root_client.post(
        "/admin/accounts/user/add/",
        {"username": "bea", "person": other.pk, "is_active": "on", "is_staff": "on"},
        REMOTE_ADDR="192.0.2.7",
    )
    user = User.objects.get(username="bea")
    event = AuditEvent.objects.get(subject=user, action=AuditEvent.Action.USER_CREATED)
    assert event.actor is not None and event.actor.username == "root" and event.ip == "192.0.2.7"
    assert event.data["values"]["is_staff"] is True
    assert event.data["values"]["person"] == other.pk
    assert event.data["password"] == "made unusable" and not user.has_usable_password()


def test_a_change_in_the_admin_is_audited_with_old_and_new_values(root_client, system_user):
    beheerders = Group.objects.get(name=BEHEERDERS_GROUP)
    root_client.post(
        change_url(system_user),
        {
            "username": "rob",
            "person": system_user.person.pk,
            "is_hidden": "on",
            "groups": [beheerders.pk],
        },
        REMOTE_ADDR="192.0.2.8",
    )
    event = AuditEvent.objects.get(subject=system_user, action=AuditEvent.Action.USER_CHANGED)
    assert event.actor is not None and event.actor.username == "root" and event.ip == "192.0.2.8"
    assert event.data["changes"] == {
        "username": {"old": "rdewit", "new": "rob"},
        "is_active": {"old": True, "new": False},
        "is_hidden": {"old": False, "new": True},
        "groups": {"old": [], "new": [BEHEERDERS_GROUP]},
    }
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.PASSWORD_SET).exists()
    with translation.override("nl"):
        assert "gebruikersnaam: rdewit → rob" in event.describe()


def test_an_unchanged_save_in_the_admin_records_nothing(root_client, system_user):
    root_client.post(
        change_url(system_user),
        {"username": "rdewit", "person": system_user.person.pk, "is_active": "on"},
    )
    assert not AuditEvent.objects.filter(subject=system_user).exists()


def test_the_admins_own_password_change_is_audited_without_the_password(client, system_user):
    system_user.is_staff = True
    system_user.save()
    client.force_login(system_user)
    assert "Wachtwoord wijzigen" in client.get("/admin/password_change/").content.decode()
    new = "Another-long-password-7"
    response = client.post(
        "/admin/password_change/",
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
        REMOTE_ADDR="192.0.2.9",
    )
    assert response.status_code == 302
    system_user.refresh_from_db()
    assert system_user.check_password(new)
    event = AuditEvent.objects.get(subject=system_user, action=AuditEvent.Action.PASSWORD_SET)
    assert event.actor == system_user and event.ip == "192.0.2.9"
    assert event.data == {"password": "set"}
    assert new not in str(event.data) and system_user.password not in str(event.data)
    assert client.get("/admin/").status_code == 200  # still logged in
