"""Manual 3.1: from the go-live, people without a linked app have no access, also not
through a session opened before it. Sessions opened with a code or from a trusted
location go on (manual 4.3)."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from mfa import devices, totp
from mfa.models import Device, MfaSettings, TrustedLocation
from tests.helpers import code_at, post_login, shown_key

ENROL = reverse("mfa:enrol")


def go_live():
    MfaSettings.objects.update_or_create(pk=1, defaults={"go_live_at": timezone.now()})


def test_a_password_only_session_ends_at_the_go_live(client, system_user):
    assert post_login(client).status_code == 302
    assert client.get("/").status_code == 200
    go_live()
    response = client.get(ENROL)
    assert response.status_code == 302 and response["Location"].startswith(
        reverse("accounts:login")
    )
    assert "_auth_user_id" not in client.session
    page = client.get(response["Location"]).content.decode()
    assert "MFA is nu verplicht" in page
    # the padlock did not hand out a fresh key, and the old cookie is dead
    assert client.get("/").status_code == 302
    assert AuditEvent.objects.filter(
        subject=system_user, action=AuditEvent.Action.SESSION_ENDED
    ).exists()


def test_a_session_opened_with_a_code_outlives_the_go_live(client, linked_user, secret):
    Device.objects.update(last_used_step=0)
    assert post_login(client, code=code_at(secret, timezone.now())).status_code == 302
    go_live()
    assert client.get("/").status_code == 200


def test_a_session_from_a_trusted_location_outlives_the_go_live(client, linked_user):
    TrustedLocation.objects.create(name="Kantoor", network="127.0.0.0/8")
    assert post_login(client).status_code == 302
    go_live()
    assert client.get("/").status_code == 200


def test_manual_4_3_the_person_with_the_beheerders_code_links_his_own_app(
    client, admin_user, system_user
):
    """Logged in with the beheerder's code, unlinked, still logged in: links his own app."""
    now = timezone.now()
    admin_secret = totp.new_secret()
    devices.device_link(
        user=system_user,
        secret=admin_secret,
        code=code_at(admin_secret, now - timedelta(minutes=1)),
        by=admin_user,
        ip=None,
        now=now - timedelta(minutes=1),
    )
    go_live()
    assert post_login(client, code=code_at(admin_secret, now)).status_code == 302
    devices.device_unlink_all(
        user=system_user, by=admin_user, ip=None, now=now, spare_temporary=True
    )
    key = shown_key(client.get(ENROL))
    assert key
    client.post(ENROL, {"code": code_at(key, timezone.now())})
    assert Device.objects.get(user=system_user).secret == key


def test_linking_an_app_gives_a_password_only_session_its_second_factor(client, system_user):
    assert post_login(client).status_code == 302
    key = shown_key(client.get(ENROL))
    client.post(ENROL, {"code": code_at(key, timezone.now())})
    go_live()
    assert client.get("/").status_code == 200


def test_a_post_from_an_ended_session_changes_nothing(client, system_user):
    assert post_login(client).status_code == 302
    key = shown_key(client.get(ENROL))
    go_live()
    response = client.post(ENROL, {"code": code_at(key, timezone.now())})
    assert response.status_code == 302
    assert not Device.objects.exists()
