"""The audit trail's move from mfa into the audit app (audit.0001_initial and
mfa.0011_auditevent_to_audit): the table is not touched, no record is lost, and whoever
could read the Auditlog before still can."""

import io
from itertools import product

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from accounts.models import User
from accounts.services import BEHEERDERS_GROUP
from audit.models import AuditEvent

BEFORE_THE_MOVE = [("audit", None)]  # and mfa.0011, which depends on it
MOVE = [("audit", "0001_initial"), ("mfa", "0011_auditevent_to_audit")]


@pytest.mark.django_db(transaction=True)  # SQLite's schema editor refuses a transaction
def test_the_move_runs_no_sql():
    for (app, migration), direction in product(MOVE, ([], ["--backwards"])):
        out = io.StringIO()
        call_command("sqlmigrate", app, migration, *direction, stdout=out)
        statements = [
            line for line in out.getvalue().splitlines() if line and not line.startswith("--")
        ]
        assert statements == ["BEGIN;", "COMMIT;"], out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_an_existing_installation_keeps_every_record_and_every_grant(admin_user, system_user):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE_THE_MOVE)
    try:
        old = executor.loader.project_state(("mfa", "0010_sessions")).apps
        OldEvent = old.get_model("mfa", "AuditEvent")
        for action, ip in [("login_failed", "2001:db8::7"), ("login_code", "198.51.100.7")]:
            OldEvent.objects.create(
                action=action, subject_id=system_user.pk, subject_name="rdewit", ip=ip
            )
        records = list(OldEvent.objects.order_by("pk").values_list("pk", "action", "ip"))
        # As an installation has it before the upgrade: the right belongs to mfa, held by
        # the Beheerders group and by one person directly.
        right = Permission.objects.get(content_type__app_label="mfa", codename="view_auditevent")
        system_user.user_permissions.add(right)

        MigrationExecutor(connection).migrate(executor.loader.graph.leaf_nodes())
        ContentType.objects.clear_cache()

        moved = Permission.objects.get(content_type__app_label="audit", codename="view_auditevent")
        assert moved.pk == right.pk
        assert not ContentType.objects.filter(app_label="mfa", model="auditevent").exists()
        for user in (system_user, admin_user):
            assert User.objects.get(pk=user.pk).has_perm("audit.view_auditevent")
        assert list(AuditEvent.objects.order_by("pk").values_list("pk", "action", "ip")) == records
    finally:
        MigrationExecutor(connection).migrate(
            MigrationExecutor(connection).loader.graph.leaf_nodes()
        )
        ContentType.objects.clear_cache()


def test_a_new_installation_gives_the_beheerders_the_auditlog_of_the_audit_app(db):
    rights = Group.objects.get(name=BEHEERDERS_GROUP).permissions
    assert rights.filter(content_type__app_label="audit", codename="view_auditevent").exists()
    assert not ContentType.objects.filter(app_label="mfa", model="auditevent").exists()


@pytest.mark.django_db(transaction=True)
def test_a_way_back_after_a_partial_one_keeps_the_grants(system_user):
    """`migrate mfa 0010` leaves the model in both apps' states, and post_migrate makes
    a second content type (mfa, auditevent) with fresh permissions; going back further
    (`migrate audit zero`) then merges them into the moved ones instead of stopping on
    the unique (app_label, model)."""
    right = Permission.objects.get(content_type__app_label="audit", codename="view_auditevent")
    system_user.user_permissions.add(right)
    second = ContentType.objects.create(app_label="mfa", model="auditevent")
    fresh = Permission.objects.create(
        content_type=second, codename="view_auditevent", name="Can view MFA audit event"
    )
    group = Group.objects.create(name="Lezers")
    group.permissions.add(fresh)
    try:
        MigrationExecutor(connection).migrate(BEFORE_THE_MOVE)
        ContentType.objects.clear_cache()
        back = Permission.objects.get(content_type__app_label="mfa", codename="view_auditevent")
        assert back.pk == right.pk
        assert list(group.permissions.all()) == [back]
        assert list(User.objects.get(pk=system_user.pk).user_permissions.all()) == [back]
        assert not ContentType.objects.filter(app_label="audit", model="auditevent").exists()
    finally:
        MigrationExecutor(connection).migrate(
            MigrationExecutor(connection).loader.graph.leaf_nodes()
        )
        ContentType.objects.clear_cache()
