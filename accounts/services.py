from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.models import AnonymousUser, Group, Permission
from django.db import transaction
from django.db.models import F

from mfa.audit import audit
from mfa.models import AuditEvent

from .models import Person, User

if TYPE_CHECKING:
    from .forms import SystemUserForm


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
    "mfa.view_auditevent",
    "reports.view_report",
]

# Compared against when the username is unknown, so that an unknown user costs
# the same hash as a known one and timing does not reveal which accounts exist.
_DUMMY_HASH = None


def beheerders_group_sync(**kwargs: Any) -> None:
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
    user = User.objects.named(key).first()
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


@transaction.atomic
def system_user_save(*, form: "SystemUserForm") -> User:
    """Create or update a person's system user from a validated SystemUserForm."""
    user: User = form.save(commit=False)
    if form.cleaned_data.get("password1"):
        user.set_password(form.cleaned_data["password1"])
    elif user._state.adding:
        user.set_unusable_password()
    user.save()
    return user
