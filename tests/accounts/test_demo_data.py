import io

from django.core.management import call_command

from accounts.models import Person, User
from audit.models import AuditEvent
from mfa.models import Device


def test_bulk_demo_data_has_the_shape_of_an_association(db):
    call_command("demo_data", persons=1000, stdout=io.StringIO())

    assert Person.objects.count() == 1000
    demo = User.objects.filter(username__startswith="demo")
    assert demo.count() == 1000 // 5 - 2  # the demo logins' persons count among the 1000
    linked = demo.filter(mfa_devices__isnull=False).distinct().count()
    assert 0.65 < linked / demo.count() < 0.85
    assert Device.objects.filter(user__in=demo).count() == linked
    assert AuditEvent.objects.filter(subject__in=demo).count() == 3 * linked
    user = demo.filter(mfa_devices__isnull=False).earliest("pk")
    assert user.check_password("Livits-demo-2026")
    assert user.username_canonical == user.username
    assert len(user.mfa_devices.get().secret) == 32  # decrypts: encrypted like a real one
    # The keys were chosen by the command: the sequences have moved past them.
    assert (
        Person.objects.create(first_name="Na", last_name="Later").pk
        > Person.objects.filter(last_name__regex=r"\d$").latest("pk").pk
    )


def test_bulk_demo_data_adds_only_what_is_missing(db):
    call_command("demo_data", persons=500, stdout=io.StringIO())
    users = User.objects.count()
    call_command("demo_data", persons=500, stdout=io.StringIO())
    assert (Person.objects.count(), User.objects.count()) == (500, users)
