from datetime import UTC, datetime
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import models
from django.utils import formats, timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from accounts.text import validate_plain_text

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


class DeviceQuerySet(models.QuerySet["Device"]):
    def active(self, now: datetime) -> "DeviceQuerySet":
        """Devices that can be used at `now`: no end date, or one still ahead."""
        return self.filter(models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now))

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


class AuditEvent(models.Model):
    """Who did what to whom, when and from where. Never holds a secret or a code.

    What happened is stored as data (`data`) and put into words in the reader's
    language when shown (`describe`).
    """

    class Action(models.TextChoices):
        DEVICE_LINKED = "device_linked", _("Device linked")
        DEVICE_REMOVED = "device_removed", _("Device removed")
        DEVICE_RENAMED = "device_renamed", _("Device renamed")
        DEVICE_EXPIRED = "device_expired", _("Temporary access expired")
        UNLINKED_ALL = "unlinked_all", _("MFA unlinked")
        LOGIN_CODE = "login_code", _("Logged in with access code")
        LOGIN_RECOVERY = "login_recovery", _("Logged in with a recovery code")
        LOGIN_TRUSTED = "login_trusted", _("Logged in from trusted location")
        LOGIN_WITHOUT_DEVICE = "login_without_device", _("Logged in without MFA (before go-live)")
        LOGIN_FAILED = "login_failed", _("Failed login")
        LOGIN_NO_DEVICE = "login_no_device", _("Login refused: no MFA linked")
        CODE_FAILED = "code_failed", _("Wrong access code")
        CODE_REPLAYED = "code_replayed", _("Access code used again")
        LOCKED = "locked", _("Account locked")
        LOCK_CLEARED = "lock_cleared", _("Lock cleared")
        SESSION_ENDED = "session_ended", _("Session ended")
        GO_LIVE_CHANGED = "go_live_changed", _("Go-live changed")
        TRUSTED_LOCATION_CHANGED = "trusted_location_changed", _("Trusted locations changed")
        ISSUER_CHANGED = "issuer_changed", _("Issuer name changed")
        KEYS_ROTATED = "keys_rotated", _("Secrets re-encrypted")
        USER_DELETED = "user_deleted", _("System user deleted")
        USER_CREATED = "user_created", _("System user created")
        USER_CHANGED = "user_changed", _("System user changed")
        PASSWORD_SET = "password_set", _("Password changed")
        RECOVERY_MADE = "recovery_made", _("Recovery codes made")
        RECOVERY_USED = "recovery_used", _("Recovery code used")
        RECOVERY_INVALIDATED = "recovery_invalidated", _("Recovery codes invalidated")
        REMINDER_SENT = "reminder_sent", _("Reminder to link an app sent")
        REMINDERS_BATCH = "reminders_batch", _("Reminders to link an app sent")
        PASSKEY_ADDED = "passkey_added", _("Passkey added")
        PASSKEY_REMOVED = "passkey_removed", _("Passkey removed")
        PASSKEY_RENAMED = "passkey_renamed", _("Passkey renamed")
        LOGIN_PASSKEY = "login_passkey", _("Logged in with a passkey")
        PASSKEY_FAILED = "passkey_failed", _("Passkey sign-in refused")
        PASSKEY_CLONED = "passkey_cloned", _("Passkey refused: its counter went back (cloned key?)")
        PASSKEYS_SWITCHED = "passkeys_switched", _("Passkeys allowed or not")
        SESSIONS_ENDED = "sessions_ended", _("All sessions ended")
        LOCK_REFUSED = "lock_refused", _("Login refused: locked")
        OTHER_SESSIONS_ENDED = "other_sessions_ended", _("Other sessions ended")
        BROWSER_FORGOTTEN = "browser_forgotten", _("Browser forgotten")
        PASSWORD_RESET_ASKED = "password_reset_asked", _("Password reset asked")
        PASSWORD_LINK_SENT = "password_link_sent", _("Password link sent")

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
    # The address the per-address limit counts by: an IPv4 address, or an IPv6 /64.
    ip_block = models.CharField(max_length=50, blank=True, editable=False)
    data = models.JSONField(_("detail"), default=dict, blank=True)

    class Meta:
        verbose_name = _("MFA audit event")
        verbose_name_plural = _("MFA audit events")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["subject", "-at"]),
            models.Index(fields=["ip_block", "action", "at"]),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.subject_name}"

    def describe(self) -> str:
        """The detail of this event in the active language."""
        return _describe(self.action, self.data or {})


# Failed login attempts: what the reports count, and with refusals by a lock, what the
# per-address limit counts.
FAILURE_ACTIONS = [
    AuditEvent.Action.LOGIN_FAILED,
    AuditEvent.Action.LOGIN_NO_DEVICE,
    AuditEvent.Action.CODE_FAILED,
    AuditEvent.Action.CODE_REPLAYED,
    AuditEvent.Action.PASSKEY_FAILED,
    AuditEvent.Action.PASSKEY_CLONED,
]
ADDRESS_LIMITED_ACTIONS = [
    *FAILURE_ACTIONS,
    AuditEvent.Action.LOCK_REFUSED,
    AuditEvent.Action.PASSWORD_RESET_ASKED,  # every request for a reset link counts
]

# Why a person's last factor ended, or why their sessions were ended (audit data).
END_REASONS = {
    "unlinked": _("unlinked by an administrator"),
    "expired": _("temporary access ended"),
    "removed": _("last way in removed"),
    "passkeys_off": _("passkeys switched off"),
    "passkeys_on": _("passkeys switched on"),
    "go_live": _("MFA went live"),
    "ended_by_person": _("ended by the person"),
    "ended_by_admin": _("ended by an administrator"),
    "deactivated": _("system user deactivated"),
    "break_glass": _("all sessions ended by the command"),
    "password": _("password changed"),
}


def _moment(value: Any) -> str:
    moment = parse_datetime(value) if isinstance(value, str) else None
    return (
        formats.date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT") if moment else ""
    )


def _lock_kind(data: dict[str, Any]) -> str:
    if data.get("browser"):
        return gettext("one browser of the person's own")
    return gettext("browsers the person never signed in with")


def _user_field(name: str) -> str:
    """The label of a system user's field in the active language ("log in as system user")."""
    user_model = apps.get_model(settings.AUTH_USER_MODEL)
    return str(user_model._meta.get_field(name).verbose_name)


def _user_value(value: Any) -> str:
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "—"
    return "—" if value in (None, "") else str(value)


# What became of a password (accounts.services._password_change), in words.
PASSWORD_CHANGES = {
    "set": _("set"),
    "cleared": _("cleared"),
    "made unusable": _("made unusable"),
}
# How a password was set or a link made (accounts.passwords), in words.
PASSWORD_WAYS = {
    "change": _("by the person, with password and second factor"),
    "reset": _("through a reset link by mail"),
    "set": _("through a link from an administrator"),
}


def _describe(action: str, data: dict[str, Any]) -> str:
    Action = AuditEvent.Action
    if "text" in data:  # recorded before details were stored as data
        return str(data["text"])
    parts = []
    if action == Action.DEVICE_LINKED:
        parts.append(data.get("device", ""))
        if data.get("via_admin"):
            parts.append(gettext("via an administrator"))
        if data.get("until"):
            parts.append(gettext("valid until %(moment)s") % {"moment": _moment(data["until"])})
    elif action in (Action.DEVICE_REMOVED,):
        parts.append(data.get("device", ""))
    elif action == Action.DEVICE_EXPIRED:
        parts.append(data.get("device", ""))
        parts.append(gettext("ended %(moment)s") % {"moment": _moment(data.get("ended"))})
    elif action in (Action.PASSKEY_ADDED, Action.PASSKEY_REMOVED, Action.PASSKEY_CLONED):
        parts.append(data.get("passkey", ""))
    elif action == Action.PASSKEY_FAILED:
        parts.append(str(data.get("reason", "")))
    elif action == Action.PASSKEYS_SWITCHED:
        parts.append(gettext("allowed") if data.get("allowed") else gettext("not allowed"))
    elif action in (Action.DEVICE_RENAMED, Action.PASSKEY_RENAMED):
        parts.append(f"{data.get('old', '')} → {data.get('new', '')}")
    elif action == Action.UNLINKED_ALL:
        parts.append(", ".join(data.get("devices", [])))
        if data.get("reason"):
            parts.append(gettext("reason: %(reason)s") % {"reason": data["reason"]})
    elif action == Action.LOCKED:
        failures, wait = data.get("failures", 0), data.get("wait", 0)
        parts.append(
            ngettext("%(count)d failure", "%(count)d failures", failures) % {"count": failures}
        )
        parts.append(gettext("wait %(seconds)d s") % {"seconds": wait})
    elif action == Action.GO_LIVE_CHANGED:
        if data.get("at"):
            parts.append(gettext("live from %(moment)s") % {"moment": _moment(data["at"])})
        else:
            parts.append(gettext("not live"))
        if data.get("forced"):
            parts.append(gettext("forced from the shell"))
    elif action == Action.TRUSTED_LOCATION_CHANGED:
        verbs = {
            "added": gettext("added"),
            "changed": gettext("changed"),
            "removed": gettext("removed"),
        }
        parts.append(
            f"{verbs.get(str(data.get('change')), '')} {data.get('name', '')} "
            f"{data.get('network', '')}"
        )
    elif action == Action.ISSUER_CHANGED:
        parts.append(f"{data.get('old', '')} → {data.get('new', '')}")
    elif action == Action.KEYS_ROTATED:
        count = data.get("count", 0)
        parts.append(ngettext("%(count)d secret", "%(count)d secrets", count) % {"count": count})
    elif action == Action.USER_DELETED:
        parts.append(data.get("username", ""))
    elif action == Action.USER_CREATED:
        for name, value in data.get("values", {}).items():
            parts.append(f"{_user_field(name)}: {_user_value(value)}")
    elif action == Action.USER_CHANGED:
        for name, change in data.get("changes", {}).items():
            old, new = _user_value(change.get("old")), _user_value(change.get("new"))
            parts.append(f"{_user_field(name)}: {old} → {new}")
    elif action == Action.RECOVERY_USED:
        parts.append(gettext("code %(number)d of the set") % {"number": data.get("number", 0)})
    elif action == Action.REMINDERS_BATCH:
        sent = data.get("sent", 0)
        parts.append(ngettext("%(count)d mail", "%(count)d mails", sent) % {"count": sent})
    elif action in (Action.RECOVERY_MADE, Action.RECOVERY_INVALIDATED):
        count = data.get("count", 0)
        parts.append(ngettext("%(count)d code", "%(count)d codes", count) % {"count": count})
    elif action == Action.LOCK_REFUSED:
        parts.append(_lock_kind(data))
    elif action in (Action.SESSION_ENDED, Action.BROWSER_FORGOTTEN, Action.OTHER_SESSIONS_ENDED):
        parts.append(str(data.get("browser", "")))
        parts.append(str(data.get("address", "")))
    ended = (
        Action.RECOVERY_INVALIDATED,
        Action.SESSIONS_ENDED,
        Action.SESSION_ENDED,
        Action.OTHER_SESSIONS_ENDED,
    )
    if action in ended and data.get("reason"):
        parts.append(str(END_REASONS.get(data["reason"], data["reason"])))
    if action == Action.LOCKED:
        parts.append(_lock_kind(data))
    if action in (Action.USER_CREATED, Action.PASSWORD_SET) and data.get("password"):
        change = str(PASSWORD_CHANGES.get(data["password"], data["password"]))
        parts.append(gettext("password %(change)s") % {"change": change})
    if action in (Action.PASSWORD_SET, Action.PASSWORD_LINK_SENT) and data.get("via"):
        parts.append(str(PASSWORD_WAYS.get(data["via"], data["via"])))
    if data.get("command"):
        parts.append(gettext("by the command %(name)s") % {"name": data["command"]})
    if data.get("step_up"):
        parts.append(gettext("while confirming with password and code"))
    if data.get("reset"):
        parts.append(gettext("while setting a new password through a link"))
    return ", ".join(part for part in parts if part)
