from urllib.parse import unquote

import pytest
from django.core.exceptions import NON_FIELD_ERRORS
from django.urls import reverse

from accounts.models import Person, User
from tests.helpers import PASSWORD, post_login

LOGIN = reverse("accounts:login")


def test_anonymous_visitor_of_root_lands_on_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


def test_login_page_shows_the_manuals_labels(client, db):
    html = client.get(LOGIN).content.decode()
    for label in ("Gebruikersnaam", "Wachtwoord", "Toegangscode", "Inloggen"):
        assert label in html


def test_login_page_speaks_english_when_asked(client, db):
    html = client.get(LOGIN, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for label in ("Username", "Password", "Access code", "Log in"):
        assert label in html


def test_right_login_lands_home_counts_and_rotates_session(client, system_user):
    client.get(LOGIN)
    before = client.session.session_key
    response = post_login(client, "rdewit", PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:home")
    assert client.session.session_key != before
    system_user.refresh_from_db()
    assert system_user.login_count == 1
    assert system_user.last_login is not None
    assert "Rob" in client.get(reverse("accounts:home")).content.decode()


def test_username_is_case_insensitive(client, system_user):
    assert post_login(client, "  RdeWit ", PASSWORD).status_code == 302


def test_every_failure_gives_the_same_response(client, system_user):
    other = Person.objects.create(first_name="I", last_name="N")
    inactive = User.objects.create_user("inactive", PASSWORD, person=other)
    inactive.is_active = False
    inactive.save()
    bodies = set()
    for username, password in [
        ("rdewit", "wrong-password"),
        ("nobody", PASSWORD),
        ("inactive", PASSWORD),
    ]:
        response = post_login(client, username, password)
        assert response.status_code == 200
        body = response.content.decode()
        assert response.context["form"].has_error(NON_FIELD_ERRORS, "invalid_login")
        # The form echoes the username; everything else must be identical.
        bodies.add(body.replace(username, "<u>").split('name="csrfmiddlewaretoken"')[0])
    assert len(bodies) == 1
    assert User.objects.get(username="rdewit").login_count == 0


def test_next_parameter_is_followed_only_within_the_site(client, system_user):
    response = post_login(client, "rdewit", PASSWORD, next="https://evil.example/")
    assert response["Location"] == reverse("accounts:home")
    client.logout()
    response = post_login(client, "rdewit", PASSWORD, next="/persons/")
    assert response["Location"] == "/persons/"


def test_logout_is_post_only(user_client):
    assert user_client.get(reverse("accounts:logout")).status_code == 405
    response = user_client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert user_client.get("/").status_code == 302


def test_login_without_csrf_token_is_refused(system_user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    response = post_login(client, "rdewit", PASSWORD)
    assert response.status_code == 403
    assert "Formulier verlopen" in response.content.decode()
    assert User.objects.get(username="rdewit").login_count == 0


def test_django_admin_has_no_login_of_its_own(client, db):
    response = client.get("/admin/login/")
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


@pytest.mark.parametrize("value", ["x" * 151, ""])
def test_bad_username_is_a_form_error_not_a_crash(client, db, value):
    response = post_login(client, value, PASSWORD)
    assert response.status_code == 200
    assert response.context["form"].errors


@pytest.mark.parametrize(
    "target", ["a b", "//evil.example/", "javascript:alert(1)", "https:evil.example", "/ok/\x00"]
)
def test_an_odd_next_after_a_right_login_is_a_redirect_on_this_site(client, system_user, target):
    response = post_login(client, "rdewit", PASSWORD, next=target)
    assert response.status_code == 302
    location = unquote(response["Location"])
    assert location == target or location == reverse("accounts:home")
    assert "evil.example" not in location and not location.startswith("javascript")
