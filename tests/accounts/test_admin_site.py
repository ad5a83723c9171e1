"""The Django admin obeys the backoffice's rules: no side door to superuser."""

import pytest
from django.contrib.auth.models import Group, Permission

from accounts.models import User
from accounts.services import BEHEERDERS_GROUP


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
