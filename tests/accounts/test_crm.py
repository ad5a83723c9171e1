import pytest
from django.urls import reverse

from accounts import services
from accounts.models import Person, User
from audit.models import AuditEvent
from tests.helpers import PASSWORD


def test_person_list_searches_names_email_and_rel_code(admin_client, person):
    Person.objects.create(first_name="Astrid", infix="de", last_name="Jong")
    url = reverse("accounts:person_list")
    assert "Rob de Wit" in admin_client.get(url, {"q": "rob wit"}).content.decode()
    assert "Rob de Wit" not in admin_client.get(url, {"q": "astrid"}).content.decode()
    assert "Rob de Wit" in admin_client.get(url, {"q": "rob@example"}).content.decode()
    assert "Rob de Wit" in admin_client.get(url, {"q": person.rel_code}).content.decode()


def test_person_list_is_paginated(admin_client, db):
    Person.objects.bulk_create(Person(first_name=f"P{i:03}", last_name="Lid") for i in range(60))
    url = reverse("accounts:person_list")
    first = admin_client.get(url).context["page"]
    assert len(first.object_list) == 25 and first.paginator.num_pages == 3
    assert admin_client.get(url, {"page": "999"}).context["page"].number == 3
    assert admin_client.get(url, {"page": "abc"}).context["page"].number == 1


def test_admin_creates_edits_and_deletes_a_person(admin_client):
    response = admin_client.post(
        reverse("accounts:person_create"),
        {
            "first_name": "Ricardo",
            "infix": "de",
            "last_name": "Vries",
            "email": "",
            "relation_type": "member",
            "member_status": "active",
        },
    )
    person = Person.objects.get(last_name="Vries")
    assert response["Location"] == reverse("accounts:person_detail", args=[person.pk])
    admin_client.post(
        reverse("accounts:person_update", args=[person.pk]),
        {
            "first_name": "Ricardo",
            "infix": "de",
            "last_name": "Vries",
            "email": "r@example.org",
            "relation_type": "member",
            "member_status": "cancelled",
        },
    )
    person.refresh_from_db()
    assert person.email == "r@example.org" and person.member_status == "cancelled"
    page = admin_client.get(reverse("accounts:person_delete", args=[person.pk]))
    assert "Ricardo de Vries" in page.content.decode()
    assert Person.objects.filter(pk=person.pk).exists()
    admin_client.post(reverse("accounts:person_delete", args=[person.pk]))
    assert not Person.objects.filter(pk=person.pk).exists()


def test_deleting_a_person_deletes_its_system_user(admin_client, system_user):
    admin_client.post(reverse("accounts:person_delete", args=[system_user.person.pk]))
    assert not User.objects.filter(pk=system_user.pk).exists()


def test_admin_cannot_delete_themselves(admin_client, admin_user):
    admin_client.post(reverse("accounts:person_delete", args=[admin_user.person.pk]))
    assert Person.objects.filter(pk=admin_user.person.pk).exists()


def test_admin_creates_a_system_user_who_can_log_in(admin_client, client, person):
    url = reverse("accounts:system_user_edit", args=[person.pk])
    response = admin_client.post(
        url,
        {
            "username": "robwit",
            "is_active": "on",
            "password1": "Een-lang-wachtwoord-7",
            "password2": "Een-lang-wachtwoord-7",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(username="robwit")
    assert user.person == person
    client.logout()
    assert (
        client.post(
            reverse("accounts:login"), {"username": "robwit", "password": "Een-lang-wachtwoord-7"}
        ).status_code
        == 302
    )


def test_user_tab_shows_user_details_but_never_the_password(admin_client, system_user):
    html = admin_client.get(
        reverse("accounts:person_detail", args=[system_user.person.pk]), {"tab": "user"}
    ).content.decode()
    assert "Systeemgebruiker gegevens" in html
    assert "Inloggen als systeemgebruiker" in html and "Verbergen als systeemgebruiker" in html
    assert "Aantal inlogmomenten" in html
    assert system_user.password not in html


def test_editing_keeps_the_password_when_left_empty(admin_client, system_user):
    url = reverse("accounts:system_user_edit", args=[system_user.person.pk])
    admin_client.post(url, {"username": "rdewit", "is_hidden": "on", "is_active": "on"})
    system_user.refresh_from_db()
    assert system_user.is_hidden and system_user.check_password(PASSWORD)


def test_disabled_system_user_cannot_log_in(admin_client, client, system_user):
    url = reverse("accounts:system_user_edit", args=[system_user.person.pk])
    admin_client.post(url, {"username": "rdewit"})  # "Inloggen als systeemgebruiker" off
    system_user.refresh_from_db()
    assert not system_user.is_active
    client.logout()
    response = client.post(reverse("accounts:login"), {"username": "rdewit", "password": PASSWORD})
    assert response.status_code == 200
    assert response.context["form"].has_error("__all__", "invalid_login")
    assert "_auth_user_id" not in client.session
    system_user.refresh_from_db()
    assert system_user.login_count == 0 and system_user.last_login is None


@pytest.mark.parametrize("taken", ["rdewit", "RDEWIT", "RdeWit"])
def test_duplicate_username_in_any_case_is_a_field_error(admin_client, system_user, taken):
    other = Person.objects.create(first_name="Other", last_name="Person")
    url = reverse("accounts:system_user_edit", args=[other.pk])
    response = admin_client.post(
        url,
        {
            "username": taken,
            "password1": "Een-lang-wachtwoord-7",
            "password2": "Een-lang-wachtwoord-7",
        },
    )
    assert response.status_code == 200
    assert "username" in response.context["form"].errors
    assert User.objects.count() == 2


def test_mismatched_or_weak_password_is_a_field_error(admin_client, person):
    url = reverse("accounts:system_user_edit", args=[person.pk])
    response = admin_client.post(
        url, {"username": "robwit", "password1": "Een-lang-wachtwoord-7", "password2": "other"}
    )
    assert response.context["form"].has_error("password2", "password_mismatch")
    response = admin_client.post(
        url, {"username": "robwit", "password1": "12345", "password2": "12345"}
    )
    assert "password1" in response.context["form"].errors
    assert not User.objects.filter(username="robwit").exists()


def test_names_with_html_are_escaped(admin_client):
    admin_client.post(
        reverse("accounts:person_create"),
        {
            "first_name": "<script>alert(1)</script>",
            "last_name": "X",
            "relation_type": "person",
            "member_status": "none",
        },
    )
    person = Person.objects.get(last_name="X")
    html = admin_client.get(reverse("accounts:person_detail", args=[person.pk])).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


def test_overlong_and_wrongly_typed_values_are_field_errors(admin_client):
    before = Person.objects.count()
    response = admin_client.post(
        reverse("accounts:person_create"),
        {
            "first_name": "x" * 101,
            "last_name": "",
            "email": "not-an-email",
            "relation_type": "king",
            "member_status": "none",
        },
    )
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {
        "first_name",
        "last_name",
        "email",
        "relation_type",
    }
    assert Person.objects.count() == before


@pytest.mark.parametrize(
    "name",
    ["person_create", "person_update", "person_delete", "system_user_edit"],
)
def test_plain_user_gets_403_on_crm_edit_urls(user_client, person, name):
    url = (
        reverse(f"accounts:{name}")
        if name == "person_create"
        else reverse(f"accounts:{name}", args=[person.pk])
    )
    assert user_client.get(url).status_code == 403
    assert user_client.post(url, {"first_name": "Hack", "last_name": "Ed"}).status_code == 403
    person.refresh_from_db()
    assert person.first_name == "Rob"


def test_plain_user_sees_no_crm_menu_or_edit_buttons(user_client, person):
    html = user_client.get("/").content.decode()
    for hidden in (
        reverse("accounts:person_list"),
        reverse("accounts:person_create"),
        reverse("reports:index"),
        reverse("mfa:settings"),
        "Relatiebeheer",
        "Selecties",
        "Toevoegen",
        "Bewerken",
        "Verwijderen",
    ):
        assert hidden not in html, hidden
    assert reverse("mfa:enrol") in html  # the padlock is for everyone
    assert user_client.get(reverse("accounts:person_list")).status_code == 403
    assert user_client.get(reverse("accounts:person_detail", args=[person.pk])).status_code == 403


def test_unknown_person_is_a_404_in_the_house_style(admin_client):
    response = admin_client.get(reverse("accounts:person_detail", args=[999999]))
    assert response.status_code == 404
    html = response.content.decode()
    assert "Pagina niet gevonden" in html and "Terug naar de backoffice" in html
    assert 'data-testid="padlock"' in html  # inside the backoffice's own frame
    assert 'data-testid="current-user">Sabrina Boetzkes<' in html


# --- Who may act on whom: one rule (accounts.services.may_manage) -------------


@pytest.fixture
def root(db):
    return User.objects.create_superuser("root", "A-long-enough-password-1", email="root@x.org")


@pytest.mark.parametrize(
    ("name", "data"),
    [
        (
            "accounts:person_update",
            {"first_name": "H", "last_name": "Acked", "email": "a@evil.org"},
        ),
        ("accounts:person_delete", {}),
        ("accounts:system_user_edit", {"username": "root", "is_superuser": "on"}),
        ("mfa:admin_link", {"code": "123456"}),
        ("mfa:admin_unlink", {}),
        ("mfa:lock_clear", {}),
    ],
)
def test_a_beheerder_cannot_act_on_a_superuser_anywhere(admin_client, root, name, data):
    url = reverse(name, args=[root.person.pk])
    assert admin_client.get(url).status_code in (403, 405)
    assert admin_client.post(url, data).status_code == 403
    root.refresh_from_db()
    root.person.refresh_from_db()
    assert root.person.email == "root@x.org" and root.person.last_name == "root"
    assert not AuditEvent.objects.exists()


def test_a_superuser_manages_everyone(client, root, system_user):
    client.force_login(root)
    url = reverse("accounts:person_update", args=[system_user.person.pk])
    assert client.get(url).status_code == 200


def test_deleting_a_person_with_a_system_user_is_audited(admin_client, admin_user, system_user):
    admin_client.post(
        reverse("accounts:person_delete", args=[system_user.person.pk]), REMOTE_ADDR="192.0.2.5"
    )
    event = AuditEvent.objects.get(action=AuditEvent.Action.USER_DELETED)
    assert (event.actor, event.subject, event.subject_name, event.ip) == (
        admin_user,
        None,
        "rdewit",
        "192.0.2.5",
    )
    assert event.data["username"] == "rdewit" and event.at is not None


def test_the_last_active_superuser_cannot_be_deleted(client, root, db):
    other = User.objects.create_superuser("root2", "A-long-enough-password-2")
    client.force_login(other)
    client.post(reverse("accounts:person_delete", args=[root.person.pk]))
    assert not User.objects.filter(username="root").exists()  # another one was left
    # root2 is now the last active superuser: not even the shell deletes that one
    # (in the backoffice only a superuser may act on a superuser, and not on herself)
    with pytest.raises(services.AccountError):
        services.person_delete(person=other.person, by=None, ip=None)
    assert User.objects.filter(username="root2").exists()
    response = client.post(reverse("accounts:person_delete", args=[other.person.pk]), follow=True)
    assert "U kunt uzelf niet verwijderen." in response.content.decode()
