"""Arbitrary text at every MFA form: a clear form error or success, never a 500."""

from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.models import AuditEvent
from mfa.models import Device, MfaSettings

text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=120)
hostile = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@hostile
@given(code=text)
def test_padlock_code_field(user_client, code):
    response = user_client.post(reverse("mfa:enrol"), {"code": code})
    assert response.status_code == 200
    assert response.context["link_form"].errors
    assert not Device.objects.exists()


@hostile
@given(password=text, code=text, device=text)
def test_step_up_and_remove(client, linked_user, password, code, device):
    client.force_login(linked_user)
    assert (
        client.post(reverse("mfa:step_up"), {"password": password, "code": code}).status_code == 200
    )
    assert client.post(reverse("mfa:device_remove"), {"device": device}).status_code == 302
    assert Device.objects.count() == 1


@hostile
@given(name=text)
def test_rename(client, linked_user, name):
    client.force_login(linked_user)
    device = Device.objects.get()
    response = client.post(reverse("mfa:device_rename", args=[device.pk]), {"name": name})
    assert response.status_code == 302
    stored = Device.objects.get().name
    assert stored == device.name or stored == name.strip()


@hostile
@given(issuer=text, at=text, expires=text, code=text)
def test_settings_go_live_and_admin_link(admin_client, system_user, issuer, at, expires, code):
    before = AuditEvent.objects.count()
    response = admin_client.post(reverse("mfa:issuer"), {"issuer": issuer})
    assert response.status_code in (200, 302)
    response = admin_client.post(reverse("mfa:go_live"), {"action": "go_live", "at": at})
    assert response.status_code in (200, 302)
    if response.status_code == 200:
        assert MfaSettings.load().go_live_at is None
    MfaSettings.objects.update(go_live_at=None)
    url = reverse("mfa:admin_link", args=[system_user.person.pk])
    response = admin_client.post(url, {"code": code, "expires_at": expires})
    assert response.status_code == 200 and not Device.objects.exists()
    assert AuditEvent.objects.count() - before <= 2
