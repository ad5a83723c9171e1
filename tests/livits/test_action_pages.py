"""An action's address opened with GET (a bookmark, a reload, a typed address) shows a
page of the house with a way back, never the browser's blank 405 (issue 22, item 2).
Every URL of the urlconf is walked, so a new action cannot escape."""

from django.urls import get_resolver

from tests.helpers import login_with_code
from tests.test_hostile_urls import NOT_WALKED, ROUTES, names, url_for


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
