from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django import forms
from django.contrib.auth.hashers import check_password, is_password_usable, make_password
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import AnonymousUser, Group, Permission
from django.db import transaction
from django.db.models import F
from django.db.models.signals import post_save, pre_save

from audit.models import AuditEvent
from audit.services import audit
from livits import clock
from mfa import factors

from .models import Person, User


class AccountError(Exception):
    """A refused change to a person or system user; `code` keys the message."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


BEHEERDERS_GROUP = "Beheerders"
# The rights of a beheerder ("admin" in the manual). Permissions of apps that
# are not installed yet are skipped and added when their migrations run.
BEHEERDERS_PERMISSIONS = [
    "accounts.view_person",
    "accounts.add_person",
    "accounts.change_person",
    "accounts.delete_person",
    "accounts.view_user",
    "accounts.add_user",
    "accounts.change_user",
    "mfa.link_device",
    "mfa.unlink_device",
    "mfa.change_mfasettings",
    "mfa.change_loginthrottle",
    "mfa.end_sessions",
    "audit.view_auditevent",
    "reports.view_report",
]

# Compared against when the username is unknown, so that an unknown user costs
# the same hash as a known one and timing does not reveal which accounts exist.
_DUMMY_HASH = None


def beheerders_group_sync(**kwargs: Any) -> None:
    # The permissions of the app just migrated first: Django's own receiver that makes
    # them runs after this one when "accounts" stands before "django.contrib.auth".
    if "app_config" in kwargs:
        create_permissions(**kwargs)
    group, _ = Group.objects.get_or_create(name=BEHEERDERS_GROUP)
    for name in BEHEERDERS_PERMISSIONS:
        app_label, codename = name.split(".")
        permission = Permission.objects.filter(
            content_type__app_label=app_label, codename=codename
        ).first()
        if permission:
            group.permissions.add(permission)


def password_dummy_check(password: str) -> None:
    """Spend one password hash on nothing, as a real check would."""
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = make_password("livits-dummy-password")
    check_password(password, _DUMMY_HASH)


def may_manage(actor: User | AnonymousUser, target: User | None) -> bool:
    """Whether `actor` may act on the account `target` (or the person record it belongs
    to): edit, delete, link or unlink MFA, clear a lock. Only a superuser acts on a
    superuser. `target` None: a person without a system user, anyone with the right
    permission may act on it."""
    return target is None or actor.is_superuser or not target.is_superuser


def credentials_check(*, key: str, password: str) -> User | None:
    """The active user whose canonical username is `key`, if `password` is theirs; or None.

    Every path checks exactly one password hash.
    """
    user = User.objects.named(key).select_related("person").first()  # the new-browser mail
    if user is None:
        password_dummy_check(password)
        return None
    if not user.check_password(password) or not user.is_active:
        return None
    return user


def login_record(*, user: User, now: datetime) -> None:
    """Count a successful login and its moment in one UPDATE (atomic, so concurrent logins
    all count); it takes the place of Django's own last_login receiver (accounts.apps)."""
    User.objects.filter(pk=user.pk).update(login_count=F("login_count") + 1, last_login=now)
    user.last_login = now


@transaction.atomic
def person_delete(*, person: Person, by: User | None, ip: str | None) -> None:
    """Delete a person and, with it, their system user: recorded in the audit trail.

    The last active superuser is never deleted: nobody could administer the
    installation any more.
    """
    user = User.objects.select_for_update().filter(person=person).first()
    if user is not None:
        if user.is_superuser and user.is_active:
            others = User.objects.filter(is_superuser=True, is_active=True).exclude(pk=user.pk)
            if not others.exists():
                raise AccountError("last_superuser")
        audit(
            action=AuditEvent.Action.USER_DELETED,
            subject=user,
            actor=by,
            ip=ip,
            data={"username": user.username, "person": person.informal_name},
        )
    Person.objects.filter(pk=person.pk).delete()


# --- The audit trail of system users ---------------------------------------
#
# Every change to a system user is recorded with who, when, from where and what: the
# old and new value of each field below, and of the password only what became of it.

AUDITED_FIELDS = ("username", "person", "is_active", "is_hidden", "is_staff", "is_superuser")


def _state(user: User) -> dict[str, Any]:
    """What the audit trail compares of a stored system user. "password" is the hash, only
    compared here: what is recorded of it is `_password_change`'s word."""
    state: dict[str, Any] = {
        field.name: getattr(user, field.attname)
        for field in User._meta.concrete_fields
        if field.name in AUDITED_FIELDS
    }
    state["groups"] = sorted(user.groups.values_list("name", flat=True))
    state["user_permissions"] = sorted(
        f"{app_label}.{codename}"
        for app_label, codename in user.user_permissions.values_list(
            "content_type__app_label", "codename"
        )
    )
    state["password"] = user.password
    return state


def _password_change(password: str) -> str:
    """What became of a password, for the audit trail: never the value or its hash."""
    if not password:
        return "cleared"
    return "set" if is_password_usable(password) else "made unusable"


def _user_audit(
    *,
    before: dict[str, Any] | None,
    user: User,
    by: User | None,
    ip: str | None,
    command: str = "",
    via: str = "",
) -> None:
    """Record the difference between `before` (None: just created) and `user` as stored;
    `via`: how a password was set (accounts.passwords: "change", "reset", "set")."""
    after = _state(User.objects.get(pk=user.pk))
    extra = {"command": command} if command else {}
    if via:
        extra["via"] = via
    password = after.pop("password")
    if before is None:
        data = {"values": after, "password": _password_change(password), **extra}
        audit(action=AuditEvent.Action.USER_CREATED, subject=user, actor=by, ip=ip, data=data)
        return
    changes = {
        name: {"old": before[name], "new": value}
        for name, value in after.items()
        if before[name] != value
    }
    if changes:
        data = {"changes": changes, **extra}
        audit(action=AuditEvent.Action.USER_CHANGED, subject=user, actor=by, ip=ip, data=data)
    if before["password"] != password:
        data = {"password": _password_change(password), **extra}
        audit(action=AuditEvent.Action.PASSWORD_SET, subject=user, actor=by, ip=ip, data=data)


@transaction.atomic
def system_user_save(*, form: forms.ModelForm[User], by: User, ip: str | None) -> User:
    """Create or update a system user from a validated form (the CRM's SystemUserForm or
    the Django admin's), with the audit record of what changed."""
    user: User = form.save(commit=False)
    before = None
    if not user._state.adding:  # the stored row: the form has changed `user` already
        before = _state(User.objects.select_for_update().get(pk=user.pk))
    if form.cleaned_data.get("password1"):
        user.set_password(form.cleaned_data["password1"])
    elif user._state.adding:
        user.set_unusable_password()
    user.save()
    form.save_m2m()
    _user_audit(before=before, user=user, by=by, ip=ip)
    if before is not None and before["is_active"] and not user.is_active:
        # No way back in for a deactivated user: every session ends now.
        factors.sessions_end_all(user=user, by=by, ip=ip, now=clock.now(), reason="deactivated")
    return user


@transaction.atomic
def password_set(*, user: User, password: str, by: User, ip: str | None, via: str = "") -> None:
    """Give `user` a new password (validated by the caller's form), audited."""
    before = _state(User.objects.select_for_update().get(pk=user.pk))
    user.set_password(password)
    user.save(update_fields=["password"])
    _user_audit(before=before, user=user, by=by, ip=ip, via=via)


@contextmanager
def users_audited(*, command: str) -> Iterator[None]:
    """Audit every system user that the management command `command` creates or changes
    inside the block (Django's own createsuperuser and changepassword save users their
    own way): a command has no actor and no address, the record names the command."""
    before: dict[int, dict[str, Any] | None] = {}
    saved: dict[int, User] = {}
    uid = f"users_audited_{command}"

    def remember(sender: type[User], instance: User, **kwargs: Any) -> None:
        if instance.pk is not None and instance.pk not in before:
            stored = User.objects.filter(pk=instance.pk).first()
            before[instance.pk] = _state(stored) if stored else None

    def collect(sender: type[User], instance: User, created: bool, **kwargs: Any) -> None:
        saved[instance.pk] = instance
        if created:
            before.setdefault(instance.pk, None)

    pre_save.connect(remember, sender=User, weak=False, dispatch_uid=uid)
    post_save.connect(collect, sender=User, weak=False, dispatch_uid=uid)
    try:
        yield
    finally:
        pre_save.disconnect(sender=User, dispatch_uid=uid)
        post_save.disconnect(sender=User, dispatch_uid=uid)
    for pk, user in saved.items():
        _user_audit(before=before[pk], user=user, by=None, ip=None, command=command)
