# The audit trail moves from mfa into this app with its table, its rows and its
# permissions: mfa_auditevent is not touched (state only), and the content type
# (mfa, auditevent) becomes (audit, auditevent), so that its permissions keep their ids
# and every group or user that held mfa.view_auditevent now holds audit.view_auditevent.

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def content_type_move(old: str, new: str):
    def move(apps, schema_editor):
        # On a new database the content types are made after the migrations
        # (post_migrate): there is none yet, and this changes nothing. A content type of
        # the new name exists when post_migrate made one after a partial migration back
        # (`migrate mfa 0010` leaves the model in both apps' states): its permissions are
        # fresh duplicates, so their grants join the moved permissions of the same
        # codename and the duplicate goes, before the rename keeps the old ids.
        alias = schema_editor.connection.alias
        ContentType = apps.get_model("contenttypes", "ContentType")
        Permission = apps.get_model("auth", "Permission")
        Group = apps.get_model("auth", "Group")
        User = apps.get_model(settings.AUTH_USER_MODEL)
        moving = ContentType.objects.using(alias).filter(app_label=old, model="auditevent")
        duplicate = ContentType.objects.using(alias).filter(app_label=new, model="auditevent")
        if moving.exists() and duplicate.exists():
            kept = {
                p.codename: p
                for p in Permission.objects.using(alias).filter(content_type__in=moving)
            }
            for through, holder in (
                (Group.permissions.through, "group_id"),
                (User.user_permissions.through, f"{User._meta.model_name}_id"),
            ):
                grants = through.objects.using(alias)
                for gone in Permission.objects.using(alias).filter(content_type__in=duplicate):
                    target = kept.get(gone.codename)
                    for grant in grants.filter(permission_id=gone.pk):
                        if target is not None:
                            fields = {holder: getattr(grant, holder), "permission_id": target.pk}
                            grants.get_or_create(**fields)
                        grant.delete()
            Permission.objects.using(alias).filter(content_type__in=duplicate).delete()
            duplicate.delete()
        moving.update(app_label=new)

    return move


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        # The table is mfa's, made and changed by its migrations up to here.
        ("mfa", "0010_sessions"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='AuditEvent',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('at', models.DateTimeField(db_index=True, default=django.utils.timezone.now, verbose_name='time')),
                        ('subject_name', models.CharField(blank=True, max_length=150, verbose_name='account name')),
                        ('action', models.CharField(choices=[('device_linked', 'Device linked'), ('device_removed', 'Device removed'), ('device_renamed', 'Device renamed'), ('device_expired', 'Temporary access expired'), ('unlinked_all', 'MFA unlinked'), ('login_code', 'Logged in with access code'), ('login_recovery', 'Logged in with a recovery code'), ('login_trusted', 'Logged in from trusted location'), ('login_without_device', 'Logged in without MFA (before go-live)'), ('login_failed', 'Failed login'), ('login_no_device', 'Login refused: no MFA linked'), ('code_failed', 'Wrong access code'), ('code_replayed', 'Access code used again'), ('locked', 'Account locked'), ('lock_cleared', 'Lock cleared'), ('session_ended', 'Session ended'), ('go_live_changed', 'Go-live changed'), ('trusted_location_changed', 'Trusted locations changed'), ('issuer_changed', 'Issuer name changed'), ('keys_rotated', 'Secrets re-encrypted'), ('user_deleted', 'System user deleted'), ('user_created', 'System user created'), ('user_changed', 'System user changed'), ('password_set', 'Password changed'), ('recovery_made', 'Recovery codes made'), ('recovery_used', 'Recovery code used'), ('recovery_invalidated', 'Recovery codes invalidated'), ('reminder_sent', 'Reminder to link an app sent'), ('reminders_batch', 'Reminders to link an app sent'), ('passkey_added', 'Passkey added'), ('passkey_removed', 'Passkey removed'), ('passkey_renamed', 'Passkey renamed'), ('login_passkey', 'Logged in with a passkey'), ('passkey_failed', 'Passkey sign-in refused'), ('passkey_cloned', 'Passkey refused: its counter went back (cloned key?)'), ('passkeys_switched', 'Passkeys allowed or not'), ('sessions_ended', 'All sessions ended'), ('lock_refused', 'Login refused: locked'), ('other_sessions_ended', 'Other sessions ended'), ('browser_forgotten', 'Browser forgotten'), ('password_reset_asked', 'Password reset asked'), ('password_link_sent', 'Password link sent')], max_length=40, verbose_name='event')),
                        ('ip', models.GenericIPAddressField(blank=True, null=True, verbose_name='IP address')),
                        ('ip_block', models.CharField(blank=True, editable=False, max_length=50)),
                        ('data', models.JSONField(blank=True, default=dict, verbose_name='detail')),
                        ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='by')),
                        ('subject', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='audit_events', to=settings.AUTH_USER_MODEL, verbose_name='about')),
                    ],
                    options={
                        'verbose_name': 'MFA audit event',
                        'verbose_name_plural': 'MFA audit events',
                        'db_table': 'mfa_auditevent',
                        'ordering': ['-at', '-id'],
                        'indexes': [models.Index(fields=['subject', '-at'], name='mfa_auditev_subject_5300a1_idx'), models.Index(fields=['ip_block', 'action', 'at'], name='mfa_auditev_ip_bloc_827a06_idx')],
                    },
                ),
            ],
        ),
        migrations.RunPython(
            content_type_move("mfa", "audit"), content_type_move("audit", "mfa")
        ),
    ]
