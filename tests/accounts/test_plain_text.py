"""Names cannot start new lines or turn text around (accounts.text): refused by the one
validator wherever a name is typed, and a mail body never breaks a line on a name."""

import sys
import unicodedata

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.forms import PersonForm
from accounts.models import Person, User
from accounts.text import BIDI_CONTROLS, one_line, validate_plain_text
from mfa.forms import DeviceRenameForm, PasskeyAddForm
from mfa.models import Device, Passkey
from mfa.rollout import reminder_mail

CONTROLS = [
    chr(point)
    for point in range(sys.maxunicode + 1)
    if unicodedata.category(chr(point)) in ("Cc", "Zl", "Zp")
] + sorted(BIDI_CONTROLS)
NAMES = ["Zoë", "Ĳsbrand", "O'Neil", "de Vries-Öztürk", "Anne-Marie", "François", "Ἀθηνᾶ", "李"]
# Letters, marks, digits, punctuation, symbols and spaces: everything a name may hold.
name_text = st.text(st.characters(categories=["L", "M", "N", "P", "S", "Zs"]), max_size=40)


def codes(error):
    return [item.code for item in error.error_list]


@given(before=name_text, control=st.sampled_from(CONTROLS), after=name_text)
def test_every_control_character_is_refused_wherever_it_stands(before, control, after):
    with pytest.raises(ValidationError) as refused:
        validate_plain_text(before + control + after)
    assert codes(refused.value) == ["control_character"]


@given(name=name_text)
def test_names_without_control_characters_pass(name):
    validate_plain_text(name)
    assert one_line(name) == name


@pytest.mark.parametrize("name", NAMES)
def test_ordinary_names_are_accepted(name):
    validate_plain_text(name)


def test_the_list_of_controls_is_what_it_claims():
    assert {"\r", "\n", "\t", "\x00", "\x1b", "\x7f", "\x85", "\u2028", "\u2029"} <= set(CONTROLS)
    assert "\u202e" in CONTROLS and all(unicodedata.category(c) == "Cf" for c in BIDI_CONTROLS)


def test_the_person_form_refuses_a_name_with_a_line_break(db):
    data = {"first_name": "Ricardo\r\nBcc: x@example.org", "last_name": "Vries"}
    data |= {"relation_type": "person", "member_status": "none", "infix": "de\u202e"}
    form = PersonForm(data)
    assert not form.is_valid()
    assert [e.code for e in form.errors.as_data()["first_name"]] == ["control_character"]
    assert [e.code for e in form.errors.as_data()["infix"]] == ["control_character"]
    assert PersonForm({**data, "first_name": "Ricardo", "infix": "de"}).is_valid()


def test_the_crm_says_what_is_wrong_in_dutch(admin_client):
    response = admin_client.post(
        reverse("accounts:person_create"),
        {"first_name": "Ricardo", "last_name": "Vries\nBcc: x@example.org"},
    )
    assert response.status_code == 200
    assert "Verwijder de stuurtekens (zoals regeleinden of tabs) uit deze naam." in (
        response.content.decode()
    )
    assert not Person.objects.filter(first_name="Ricardo").exists()


@pytest.mark.parametrize(
    ("model", "field"),
    [
        (Person, "first_name"),
        (Person, "infix"),
        (Person, "last_name"),
        (Device, "name"),
        (Passkey, "name"),
    ],
)
def test_the_model_fields_carry_the_validator(model, field):
    # full_clean, the Django admin and every ModelForm use the model field's validators
    assert validate_plain_text in model._meta.get_field(field).validators


def test_full_clean_refuses_a_control_character(db):
    with pytest.raises(ValidationError) as refused:
        Person(first_name="Rob\u2028", last_name="Wit").full_clean()
    assert codes(refused.value.error_dict["first_name"][0]) == ["control_character"]


def test_the_person_admin_refuses_a_control_character(client, db):
    root = User.objects.create_superuser("root", "A-long-enough-password-1")
    client.force_login(root)
    data = {"first_name": "Rob\x1b[2J", "last_name": "Wit", "relation_type": "person"}
    response = client.post(
        f"/admin/accounts/person/{root.person.pk}/change/", {**data, "member_status": "none"}
    )
    assert response.status_code == 200 and response.context["adminform"].form.errors
    root.person.refresh_from_db()
    assert root.person.first_name == ""


@pytest.mark.parametrize(
    ("form", "data"),
    [
        (DeviceRenameForm, {"name": "Telefoon\nBcc: x@example.org"}),
        (PasskeyAddForm, {"name": "Laptop\u202egnp.exe", "credential": "{}"}),
    ],
)
def test_device_and_passkey_names_refuse_control_characters(form, data):
    bound = form(data)
    assert not bound.is_valid()
    assert [e.code for e in bound.errors.as_data()["name"]] == ["control_character"]


def test_renaming_a_device_on_the_padlock_page_says_why(client, linked_user):
    client.force_login(linked_user)
    device = Device.objects.get()
    response = client.post(
        reverse("mfa:device_rename", args=[device.pk]), {"name": "A\u2029B"}, follow=True
    )
    assert "Verwijder de stuurtekens" in response.content.decode()
    assert Device.objects.get().name == device.name


# --- Mail: names stored before the validator cannot start a line -------------------------


def mail_for(first_name):
    user = User(username="rdevries", person=Person(first_name=first_name, last_name="Vries"))
    return reminder_mail(user, go_live_at=None, site_url="https://livits.example/", language="nl")


def test_a_first_name_with_a_header_in_it_stays_on_the_greeting_line(db):
    subject, body = mail_for("Ricardo\r\nBcc: x@example.org")
    greeting = body.splitlines()[0]
    assert greeting == "Beste Ricardo  Bcc: x@example.org,"
    assert not any(line.startswith("Bcc:") for line in body.splitlines())
    assert "\r" not in body and "\n" not in subject


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.text(st.characters(blacklist_categories=["Cs"]), max_size=30))
def test_no_name_adds_a_line_to_the_mail(db, name):
    plain_subject, plain_body = mail_for("Rob")
    subject, body = mail_for(name)
    assert len(body.splitlines()) == len(plain_body.splitlines())
    assert body.splitlines()[1:] == plain_body.splitlines()[1:]
    assert subject == plain_subject
    assert not any(char in BIDI_CONTROLS for char in body)
