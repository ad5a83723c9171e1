"""A button is shown only when it works: the viewer has the right and may act on this
person (accounts.services.may_manage: only a superuser acts on a superuser)."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from accounts.models import Person, User
from mfa.models import LoginThrottle
from tests.helpers import link, login_with_code


@pytest.fixture
def still_clock(monkeypatch, frozen_now):
    from livits import clock

    monkeypatch.setattr(clock, "now", lambda: frozen_now)
    return frozen_now


@pytest.fixture
def locked_root(db, still_clock):
    """A superuser with an app linked and a login lock."""
    root = User.objects.create_superuser("root", "A-long-enough-password-1")
    link(root, still_clock - timedelta(minutes=1))
    LoginThrottle.objects.create(
        key=root.username_canonical, failures=10, locked_until=still_clock + timedelta(hours=1)
    )
    return root


def actions(client, person):
    """The buttons on `person`'s two tabs: (method, url) of every link and form shown
    (but the frame's "Log out")."""
    url = reverse("accounts:person_detail", args=[person.pk])
    found = set()
    for tab in ("person", "user"):
        html = client.get(url, {"tab": tab}).content.decode()
        found |= {("get", href) for href in re.findall(r'<a class="btn[^"]*" href="([^"]+)"', html)}
        found |= {
            ("post", act) for act in re.findall(r'<form method="post" action="([^"]+)"', html)
        }
    return found - {("post", reverse("accounts:logout"))}


def of(person):
    pk = person.pk
    return {
        ("get", reverse("accounts:person_update", args=[pk])),
        ("get", reverse("accounts:person_delete", args=[pk])),
        ("get", reverse("accounts:system_user_edit", args=[pk])),
        ("get", reverse("mfa:admin_link", args=[pk])),
        ("get", reverse("mfa:admin_unlink", args=[pk])),
        ("post", reverse("mfa:lock_clear", args=[pk])),
    }


def test_a_beheerder_sees_no_button_on_a_superusers_page(admin_client, locked_root):
    shown = actions(admin_client, locked_root.person)
    assert not shown & of(locked_root.person)
    assert shown == {("get", reverse("accounts:person_create"))}  # "Add": not about this person


def test_a_superuser_sees_the_buttons_on_a_superusers_page(client, locked_root):
    other = User.objects.create_superuser("root2", "A-long-enough-password-2")
    login_with_code(client, other)
    shown = actions(client, locked_root.person)
    link_mfa = ("get", reverse("mfa:admin_link", args=[locked_root.person.pk]))
    assert shown >= of(locked_root.person) - {link_mfa}  # linked already: unlink instead
    assert link_mfa not in shown


def test_a_beheerder_still_sees_the_buttons_on_a_plain_users_page(admin_client, system_user):
    shown = actions(admin_client, system_user.person)
    unlink = ("get", reverse("mfa:admin_unlink", args=[system_user.person.pk]))
    lock_clear = ("post", reverse("mfa:lock_clear", args=[system_user.person.pk]))
    assert shown >= of(system_user.person) - {unlink, lock_clear}  # no MFA and no lock


def test_creating_a_system_user_is_offered_only_with_both_rights_it_takes(
    admin_client, admin_user, person
):
    create = ("get", reverse("accounts:system_user_edit", args=[person.pk]))
    assert create in actions(admin_client, person)
    admin_user.groups.clear()
    admin_user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_person", "view_user", "add_user"])
    )
    admin_client.force_login(User.objects.get(pk=admin_user.pk))
    assert create not in actions(admin_client, person)  # the form also needs change_user
    assert admin_client.get(create[1]).status_code == 403


@pytest.mark.parametrize("viewer", ["beheerder", "superuser"])
def test_every_button_shown_works(client, admin_user, locked_root, system_user, viewer):
    """Walk every link and form on the pages of a superuser, a plain user and a person
    without a system user: none answers 403."""
    if viewer == "superuser":
        admin_user = User.objects.create_superuser("root2", "A-long-enough-password-2")
    login_with_code(client, admin_user)
    plain = Person.objects.create(first_name="Ans", last_name="Lid")
    walked = 0
    for person in (locked_root.person, system_user.person, plain):
        for method, url in sorted(actions(client, person)):
            status = getattr(client, method)(url).status_code
            assert status in (200, 302), (viewer, person, method, url, status)
            walked += 1
    assert walked >= (10 if viewer == "beheerder" else 14)
