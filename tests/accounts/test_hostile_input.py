"""Arbitrary text thrown at the login and person forms: never a 500, never a login, and
no write that the input does not justify."""

from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Person, User
from audit.models import FAILURE_ACTIONS, AuditEvent
from mfa import recovery

Action = AuditEvent.Action

# Any Unicode a client can encode (NUL and control characters included).
text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=300)
hypothesis_settings = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


# Toegangscode takes both kinds of code: near-misses of each.
codes = st.one_of(
    text,
    st.from_regex(r"[0-9 ]{5,8}", fullmatch=True),
    st.text(alphabet=recovery.ALPHABET + recovery.ALPHABET.lower() + "-01OIL ", max_size=14),
)


@hypothesis_settings
@given(username=st.one_of(text, st.just("rdewit")), password=text, code=codes)
def test_login_form_never_crashes(client, system_user, username, password, code):
    response = client.post(
        reverse("accounts:login"), {"username": username, "password": password, "code": code}
    )
    assert response.status_code == 200  # random text is no password: never a login
    assert response.context["form"].errors
    assert "_auth_user_id" not in client.session
    system_user.refresh_from_db()
    assert system_user.login_count == 0 and system_user.last_login is None
    refusals = [*FAILURE_ACTIONS, Action.LOCKED, Action.LOCK_REFUSED]
    assert not AuditEvent.objects.exclude(action__in=refusals).exists()


@hypothesis_settings
@given(
    first_name=text, infix=text, last_name=text, email=text, relation_type=text, member_status=text
)
def test_person_form_never_crashes_and_writes_only_valid_input(
    admin_client, first_name, infix, last_name, email, relation_type, member_status
):
    before = Person.objects.count()
    data = {
        "first_name": first_name,
        "infix": infix,
        "last_name": last_name,
        "email": email,
        "relation_type": relation_type,
        "member_status": member_status,
    }
    response = admin_client.post(reverse("accounts:person_create"), data)
    assert response.status_code in (200, 302)
    if response.status_code == 200:
        assert response.context["form"].errors
        assert Person.objects.count() == before
    else:
        assert Person.objects.count() == before + 1


@hypothesis_settings
@given(username=text, password1=text, password2=text)
def test_system_user_form_never_crashes(admin_client, person, username, password1, password2):
    url = reverse("accounts:system_user_edit", args=[person.pk])
    data = {"username": username, "password1": password1, "password2": password2}
    response = admin_client.post(url, data)
    assert response.status_code in (200, 302)
    if response.status_code == 200:
        assert not User.objects.filter(person=person).exists()
    else:
        User.objects.filter(person=person).delete()
