from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import crypto

# A person rarely has more than a phone and a tablet; the database enforces this.
MAX_DEVICES = 5


class DeviceQuerySet(models.QuerySet):
    def active(self, now):
        """Devices that can be used at `now`: no end date, or one still ahead."""
        return self.filter(models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now))


class Device(models.Model):
    """An authenticator app linked to a system user. The secret is stored encrypted."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mfa_devices"
    )
    # Slot 1..MAX_DEVICES: the database itself refuses one device too many.
    slot = models.PositiveSmallIntegerField(editable=False)
    name = models.CharField(_("name"), max_length=50)
    secret_encrypted = models.TextField(editable=False)
    linked_at = models.DateTimeField(_("linked at"), default=timezone.now)
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("linked by"),
    )
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    # The TOTP step of the last accepted code: only later steps are accepted.
    last_used_step = models.BigIntegerField(default=0, editable=False)
    expires_at = models.DateTimeField(_("valid until"), null=True, blank=True)

    objects = DeviceQuerySet.as_manager()

    class Meta:
        verbose_name = _("device")
        verbose_name_plural = _("devices")
        ordering = ["user", "slot"]
        permissions = [
            ("link_device", "Can link MFA for another user"),
            ("unlink_device", "Can unlink MFA of another user"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["user", "slot"], name="mfa_device_user_slot_unique"),
            models.UniqueConstraint(fields=["user", "name"], name="mfa_device_user_name_unique"),
            models.CheckConstraint(
                condition=models.Q(slot__gte=1, slot__lte=MAX_DEVICES), name="mfa_device_slot_range"
            ),
            models.CheckConstraint(
                condition=models.Q(last_used_step__gte=0), name="mfa_device_step_not_negative"
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def secret(self):
        return crypto.decrypt(self.secret_encrypted)

    def is_expired(self, now):
        return self.expires_at is not None and self.expires_at <= now

    @property
    def via_admin(self):
        return self.linked_by_id is not None and self.linked_by_id != self.user_id


class TrustedLocation(models.Model):
    """A network (e.g. the office) from which no access code is asked."""

    name = models.CharField(_("name"), max_length=100)
    network = models.CharField(_("network"), max_length=50, unique=True)

    class Meta:
        verbose_name = _("trusted location")
        verbose_name_plural = _("trusted locations")
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.network})"


class MfaSettings(models.Model):
    """The installation's MFA settings: one row."""

    go_live_at = models.DateTimeField(_("go-live"), null=True, blank=True)
    issuer = models.CharField(_("issuer name"), max_length=50, blank=True)

    class Meta:
        verbose_name = _("MFA settings")
        verbose_name_plural = _("MFA settings")
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="mfa_settings_single_row")
        ]

    def __str__(self):
        return "MFA settings"

    @classmethod
    def load(cls):
        return cls.objects.get_or_create(pk=1)[0]

    @property
    def issuer_name(self):
        return self.issuer or settings.MFA_ISSUER

    def is_live(self, now):
        return self.go_live_at is not None and self.go_live_at <= now


class LoginThrottle(models.Model):
    """Consecutive failed logins per account name (known or not), shared by all workers."""

    key = models.CharField(max_length=150, unique=True)
    failures = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return self.key


class AuditEvent(models.Model):
    """Who did what to whom, when and from where. Never holds a secret or a code."""

    class Action(models.TextChoices):
        DEVICE_LINKED = "device_linked", _("Device linked")
        DEVICE_REMOVED = "device_removed", _("Device removed")
        DEVICE_RENAMED = "device_renamed", _("Device renamed")
        DEVICE_EXPIRED = "device_expired", _("Temporary access expired")
        UNLINKED_ALL = "unlinked_all", _("MFA unlinked")
        LOGIN_CODE = "login_code", _("Logged in with access code")
        LOGIN_TRUSTED = "login_trusted", _("Logged in from trusted location")
        LOGIN_WITHOUT_DEVICE = "login_without_device", _("Logged in without MFA (before go-live)")
        LOGIN_FAILED = "login_failed", _("Failed login")
        LOGIN_NO_DEVICE = "login_no_device", _("Login refused: no MFA linked")
        CODE_FAILED = "code_failed", _("Wrong access code")
        CODE_REPLAYED = "code_replayed", _("Access code used again")
        LOCKED = "locked", _("Account locked")
        LOCK_CLEARED = "lock_cleared", _("Lock cleared")
        GO_LIVE_CHANGED = "go_live_changed", _("Go-live changed")
        TRUSTED_LOCATION_CHANGED = "trusted_location_changed", _("Trusted locations changed")
        ISSUER_CHANGED = "issuer_changed", _("Issuer name changed")
        KEYS_ROTATED = "keys_rotated", _("Secrets re-encrypted")

    at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="mfa_audit_events",
        verbose_name=_("about"),
    )
    # Kept when the user is deleted, and for attempts on unknown account names.
    subject_name = models.CharField(_("account name"), max_length=150, blank=True)
    action = models.CharField(_("event"), max_length=40, choices=Action)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    detail = models.CharField(_("detail"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("MFA audit event")
        verbose_name_plural = _("MFA audit events")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["subject", "-at"]),
            models.Index(fields=["ip", "action", "at"]),
        ]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.subject_name}"
