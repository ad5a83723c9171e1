"""The audit trail: who did what to whom, when and from where, for every app.

It sits below the apps that write it (accounts, mfa) and imports none of them: the
people it names are settings.AUTH_USER_MODEL. The table kept its name from the days
the trail lived in mfa (`mfa_auditevent`, with its indexes' names), so the move to this
app changed no SQL. Records hold data; `describe` puts them into words in the reader's
language, the words of the apps that write them.
"""

from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import models
from django.utils import formats, timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _


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
        related_name="audit_events",
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
        db_table = "mfa_auditevent"
        verbose_name = _("MFA audit event")
        verbose_name_plural = _("MFA audit events")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["subject", "-at"], name="mfa_auditev_subject_5300a1_idx"),
            models.Index(
                fields=["ip_block", "action", "at"], name="mfa_auditev_ip_bloc_827a06_idx"
            ),
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
