"""An action's address opened with GET (a bookmark, a reload, a typed address) shows a
page of the house with a way back, never the browser's blank 405 (issue 22, item 2).
Every URL of the urlconf is walked, so a new action cannot escape."""

import pytest
from django.urls import get_resolver
from django.utils import timezone

from accounts import passwords
from mfa.models import Device, TrustedLocation
from mfa.sessions import session_record
from tests.helpers import login_with_code
from tests.test_hostile_urls import NOT_WALKED, ROUTES, link_parts, names, url_for


@pytest.fixture
def world(admin_user, linked_user):
    location = TrustedLocation.objects.create(name="Kantoor", network="203.0.113.0/24")
    now = timezone.now()
    session = session_record(
        user=admin_user,
        session_key="x" * 32,
        method="login_code",
        via_admin=False,
        user_agent="Firefox/128.0",
        ip="192.0.2.1",
        signed_in_at=now,
        now=now,
    )
    return {
        "session": session.pk,
        "person": linked_user.person.pk,
        "device": Device.objects.get(user=linked_user).pk,
        "location": location.pk,
        "slug": "personen-met-mfa",
        "export": "csv",
        "kind": passwords.RESET_LINK,
        **dict(zip(("uidb64", "token"), link_parts(linked_user), strict=True)),
    }


def test_every_action_opened_with_get_shows_a_page_with_a_way_back(client, admin_user, world):
    assert "admin" in NOT_WALKED
    login_with_code(client, admin_user)
    actions = []
    for name in names(get_resolver().url_patterns):
        args = ROUTES[name][0]
        response = client.get(url_for(name, args, world, ["real"] * len(args)))
        if response.status_code != 405:
            continue
        actions.append(name)
        page = response.content.decode()
        assert response["Content-Type"].startswith("text/html"), name
        assert 'data-testid="action-page"' in page and "Er is niets gewijzigd." in page, name
        assert 'href="/"' in page, name  # opened directly: back to the backoffice
        assert response["Allow"] == "POST", name
    assert {"accounts:logout", "mfa:step_up", "mfa:device_remove"} <= set(actions)


def test_the_way_back_is_the_page_it_came_from_on_this_site_only(client, admin_user):
    login_with_code(client, admin_user)
    here = client.get("/mfa/step-up/", headers={"referer": "http://testserver/persons/?q=a"})
    assert 'href="http://testserver/persons/?q=a"' in here.content.decode()
    away = client.get("/mfa/step-up/", headers={"referer": "https://evil.example/"})
    assert "evil.example" not in away.content.decode()


def test_an_action_opened_with_get_changes_nothing(client, admin_user):
    login_with_code(client, admin_user)
    assert client.get("/logout/").status_code == 405
    assert client.get("/").status_code == 200  # still logged in
