from datetime import UTC, datetime

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.text import validate_plain_text
from audit.models import AuditEvent

from . import crypto, totp

# The database's hard limits: device slots 1..MAX_DEVICES_CEILING and recovery code
# numbers 1..RECOVERY_CODES_CEILING (check constraints). The settings MFA_MAX_DEVICES
# and MFA_RECOVERY_CODES choose up to these; mfa/checks.py refuses more.
MAX_DEVICES_CEILING = 5
RECOVERY_CODES_CEILING = 10
# A go-live outside these bounds is a typing error (year 1, year 9999), refused
# by the forms, the command and the database.
GO_LIVE_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
GO_LIVE_LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def moment_in_range(moment: datetime) -> bool:
    """Whether a go-live or end of temporary access is one anyone could mean."""
    return GO_LIVE_EARLIEST <= moment < GO_LIVE_LATEST


def _active(now: datetime) -> models.Q:
    return models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)


class DeviceQuerySet(models.QuerySet["Device"]):
    def active(self, now: datetime) -> "DeviceQuerySet":
        """Devices that can be used at `now`: no end date, or one still ahead."""
        return self.filter(_active(now))

    def ended(self, now: datetime) -> "DeviceQuerySet":
        """Devices whose end date has passed at `now` (not `active`), still stored."""
        return self.exclude(_active(now))

    def via_admin(self) -> "DeviceQuerySet":
        """Devices a beheerder linked for someone else (Device.via_admin, in SQL)."""
        return self.filter(linked_by__isnull=False).exclude(linked_by=models.F("user"))


class Device(models.Model):
    """An authenticator app linked to a system user. The secret is stored encrypted."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mfa_devices"
    )
    # Slot 1..MAX_DEVICES_CEILING: the database itself refuses one device too many.
    slot = models.PositiveSmallIntegerField(editable=False)
    name = models.CharField(_("name"), max_length=50, validators=[validate_plain_text])
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
                condition=models.Q(slot__gte=1, slot__lte=MAX_DEVICES_CEILING),
                name="mfa_device_slot_range",
            ),
            models.CheckConstraint(
                condition=models.Q(last_used_step__gte=0), name="mfa_device_step_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def secret(self) -> str:
        return crypto.decrypt(self.secret_encrypted)

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    @property
    def via_admin(self) -> bool:
        return self.linked_by_id is not None and self.linked_by_id != self.user_id


class Passkey(models.Model):
    """A passkey or security key (WebAuthn): signs in alone, with the device's PIN or
    biometrics. Holds the public key only; the private key never leaves the device."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="passkeys"
    )
    name = models.CharField(_("name"), max_length=50, validators=[validate_plain_text])
    credential_id = models.CharField(max_length=1400, unique=True)  # base64url
    public_key = models.BinaryField()  # COSE
    # The authenticator's signature counter: only ever goes up (0: it keeps none).
    sign_count = models.BigIntegerField(default=0)
    transports = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(_("linked at"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        verbose_name = _("passkey")
        verbose_name_plural = _("passkeys")
        ordering = ["user", "created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="mfa_passkey_user_name_unique"),
            models.CheckConstraint(
                condition=models.Q(sign_count__gte=0), name="mfa_passkey_count_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class WebAuthnChallenge(models.Model):
    """A challenge handed to the browser, used once and only within a few minutes."""

    class Purpose(models.TextChoices):
        REGISTER = "register"
        LOGIN = "login"

    challenge = models.CharField(max_length=100, unique=True)  # base64url
    purpose = models.CharField(max_length=10, choices=Purpose)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"{self.purpose} {self.created_at:%H:%M:%S}"


class RecoveryCode(models.Model):
    """One of a person's one-time recovery codes. Only its HMAC is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes"
    )
    number = models.PositiveSmallIntegerField()  # 1..MFA_RECOVERY_CODES within the set
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "number"], name="mfa_recovery_user_number"),
            models.UniqueConstraint(fields=["user", "digest"], name="mfa_recovery_user_digest"),
            models.CheckConstraint(
                condition=models.Q(number__gte=1, number__lte=RECOVERY_CODES_CEILING),
                name="mfa_recovery_number_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} #{self.number}"


class TrustedLocation(models.Model):
    """A network (e.g. the office) from which no access code is asked."""

    name = models.CharField(_("name"), max_length=100)
    network = models.CharField(_("network"), max_length=50, unique=True)

    class Meta:
        verbose_name = _("trusted location")
        verbose_name_plural = _("trusted locations")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.network})"


class MfaSettings(models.Model):
    """The installation's MFA settings: one row."""

    go_live_at = models.DateTimeField(_("go-live"), null=True, blank=True)
    issuer = models.CharField(_("issuer name"), max_length=50, blank=True)
    passkeys_allowed = models.BooleanField(_("allow passkeys"), default=False)

    class Meta:
        verbose_name = _("MFA settings")
        verbose_name_plural = _("MFA settings")
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="mfa_settings_single_row"),
            models.CheckConstraint(
                condition=models.Q(go_live_at__isnull=True)
                | models.Q(go_live_at__gte=GO_LIVE_EARLIEST, go_live_at__lt=GO_LIVE_LATEST),
                name="mfa_settings_go_live_in_range",
            ),
        ]

    def __str__(self) -> str:
        return "MFA settings"

    @classmethod
    def load(cls) -> "MfaSettings":
        return cls.objects.get_or_create(pk=1)[0]

    @property
    def issuer_name(self) -> str:
        return totp.issuer_clean(self.issuer or settings.MFA_ISSUER)

    def is_live(self, now: datetime) -> bool:
        return self.go_live_at is not None and self.go_live_at <= now


class LoginThrottle(models.Model):
    """Consecutive failed logins per account name (known or not) from browsers that carry
    no mark of that person, and per marked browser of a person: shared by all workers.
    The protocol is mfa/throttle.py's."""

    # The canonical name; a marked browser's own count is "<name>#<mark id>".
    key = models.CharField(max_length=170, unique=True)
    failures = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    # Attempts being evaluated now; they count as gone once the lease has passed.
    in_flight = models.PositiveIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.key


class DeviceMark(models.Model):
    """A browser in which a person has signed in (OWASP's device cookie): it carries a
    signed cookie naming this record, which the person can see and forget. Failed logins
    from browsers without the person's mark cannot lock a marked browser out."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="device_marks"
    )
    token = models.CharField(max_length=64, unique=True, editable=False)
    user_agent = models.CharField(_("browser"), max_length=300, blank=True)
    first_seen_at = models.DateTimeField(_("first seen"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("last seen"), default=timezone.now)

    class Meta:
        verbose_name = _("browser")
        verbose_name_plural = _("browsers")
        ordering = ["user", "-last_seen_at", "pk"]

    def __str__(self) -> str:
        return f"{self.user_id} #{self.pk}"


class UserSession(models.Model):
    """A session a person has open (mfa.sessions): what they and their beheerder see and
    can end. The session key is a bearer secret: the record is found by its digest and
    keeps the key itself encrypted, to end the session in the session store."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="open_sessions"
    )
    key_digest = models.CharField(max_length=64, unique=True, editable=False)
    key_encrypted = models.TextField(editable=False)
    # How it signed in: the AuditEvent.Action of the login (mfa.middleware.AUTH_METHOD).
    method = models.CharField(_("signed in with"), max_length=40)
    via_admin = models.BooleanField(default=False, editable=False)
    browser = models.CharField(_("browser"), max_length=200, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    signed_in_at = models.DateTimeField(_("signed in"))
    last_seen_at = models.DateTimeField(_("last activity"))
    is_current = False  # set by mfa.sessions.sessions_open for the session asking

    class Meta:
        verbose_name = _("session")
        verbose_name_plural = _("sessions")
        ordering = ["user", "-last_seen_at", "-pk"]
        permissions = [("end_sessions", "Can end the sessions of another user")]

    def __str__(self) -> str:
        return f"{self.user_id} #{self.pk}"

    def method_display(self) -> str:
        """How it signed in, in the reader's language."""
        try:
            return str(AuditEvent.Action(self.method).label)
        except ValueError:
            return self.method
