"""Passwords: a person changes their own, asks for a link by mail when they forgot it, or
is sent a link by a beheerder. A link never gets anyone past the second factor.

- A link is one use. Its token is Django's (PasswordResetTokenGenerator) over the
  person's password hash, their password link epoch (raised with every new link), last
  login and e-mail address, and the kind of link: void after use, after a new password
  and after a newer link; valid PASSWORD_RESET_LINK_SECONDS when the person asked for it
  on the login page, PASSWORD_SET_LINK_SECONDS when a beheerder sent it.
- Asking for a link costs the same for a known and an unknown name, because the request
  never looks the name up: it is counted in the name's login budget like a failure
  (mfa.throttle: the same lock, and the per-address limit), recorded, and handed to a
  task (accounts.tasks) that finds the persons and mails them.
- A link sets a password with the person's second factor (an access code or a recovery
  code, through mfa.stepup and the login's throttle). A person without any factor after
  the go-live, and a person whose only factor is a passkey, is sent to a beheerder
  (manual 4.2).
- A new password ends every session of the person (the session epoch) and the trust of
  every browser that carries their mark (mfa.marks: its own login budget) except the
  one that set it, is audited (never the value) and mailed to the person.
- A link never signs anyone in: the one way in stays the login (mfa.login), which
  decides and records how a session began.
"""

import enum
from dataclasses import dataclass
from datetime import UTC, datetime

from django import forms
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django.utils.translation import gettext as _

from audit.models import AuditEvent
from audit.services import audit
from livits import clock
from mfa.factors import factors_of, sessions_end_all
from mfa.marks import Marks, mark_of
from mfa.models import DeviceMark
from mfa.notify import local_moment, notify
from mfa.stepup import RESET, step_up
from mfa.throttle import (
    Budget,
    address_blocked,
    failure_record,
    lock_refused,
    throttle_key,
    throttle_turn,
)
from outbox.services import mail_queue

from .models import User
from .services import AccountError, password_set, system_user_save
from .text import one_line

Action = AuditEvent.Action
RESET_LINK = "reset"  # asked for on the login page ("Wachtwoord vergeten")
SET_LINK = "set"  # sent by a beheerder from the system user form
NAME_MAX_LENGTH = 254  # a username, or an e-mail address


class LinkTokens(PasswordResetTokenGenerator):
    """Django's token generator for one kind of link, on the project's clock."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    @property
    def seconds(self) -> int:
        if self.kind == RESET_LINK:
            return int(settings.PASSWORD_RESET_LINK_SECONDS)
        return int(settings.PASSWORD_SET_LINK_SECONDS)

    def _now(self) -> datetime:
        return clock.now().astimezone(UTC).replace(tzinfo=None)

    def _make_hash_value(self, user: AbstractBaseUser, timestamp: int) -> str:
        assert isinstance(user, User)
        login = "" if user.last_login is None else int(user.last_login.timestamp())
        return (
            f"{self.kind}:{user.pk}:{user.password}:{user.password_link_epoch}:{login}:"
            f"{user.person.email}:{timestamp}"
        )

    def check_token(self, user: User | None, token: str | None) -> bool:
        """Django's check (its PASSWORD_RESET_TIMEOUT is the longest link's), then this
        kind's own validity."""
        if user is None or token is None or not super().check_token(user, token):
            return False
        made = self._num_seconds(self._now()) - int(token.partition("-")[0], 36)
        return made <= self.seconds


TOKENS = {RESET_LINK: LinkTokens(RESET_LINK), SET_LINK: LinkTokens(SET_LINK)}


def link_url(*, user: User, kind: str) -> str:
    """A new link for `user`; older links of the person are void from now on. Inside the
    transaction that mails it."""
    User.objects.filter(pk=user.pk).update(password_link_epoch=F("password_link_epoch") + 1)
    user.refresh_from_db(fields=["password_link_epoch"])
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = TOKENS[kind].make_token(user)
    return settings.SITE_URL + reverse("accounts:password_link", args=[kind, uid, token])


def link_mail(*, user: User, kind: str, url: str, language: str) -> tuple[str, str]:
    """The mail with a link, in `language`: (subject, body)."""
    with translation.override(language):
        hours = TOKENS[kind].seconds // 3600
        context = {
            "name": one_line(user.get_short_name()),
            "username": user.username,
            "url": url,
            "hours": hours,
            "reset": kind == RESET_LINK,
        }
        if kind == RESET_LINK:
            subject = _("Livits: set a new password")
        else:
            subject = _("Livits: set your password")
        return subject, render_to_string("accounts/password_link_mail.txt", context)


@transaction.atomic
def password_link_send(
    *, user: User, kind: str, by: User | None, ip: str | None, now: datetime, language: str
) -> bool:
    """Mail `user` a link that sets their password (kind RESET_LINK or SET_LINK), voiding
    their older links; audited. False when the person has no e-mail address."""
    if not user.person.email:
        return False
    url = link_url(user=user, kind=kind)
    subject, body = link_mail(user=user, kind=kind, url=url, language=language)
    mail_queue(to=user.person.email, subject=subject, body=body, now=now)
    audit(
        action=Action.PASSWORD_LINK_SENT, subject=user, actor=by, ip=ip, data={"via": kind}, at=now
    )
    return True


@transaction.atomic
def system_user_link_save(
    *, form: forms.ModelForm[User], by: User, ip: str | None, now: datetime, language: str
) -> User:
    """Save a system user from the CRM's form (accounts.services.system_user_save) and,
    when the beheerder asked for it, mail the person a link to set their password."""
    user = system_user_save(form=form, by=by, ip=ip)
    if form.cleaned_data.get("send_link"):
        password_link_send(user=user, kind=SET_LINK, by=by, ip=ip, now=now, language=language)
    return user


# --- "Wachtwoord vergeten" ---------------------------------------------------


class AskStatus(enum.Enum):
    ASKED = "asked"  # counted, recorded and handed to the task: the same for every name
    LOCKED = "locked"  # this name's budget is locked until `locked_until`
    BUSY = "busy"  # other attempts of this name were under way too long
    REFUSED = "refused"  # the client's address is over its hourly limit


@dataclass(frozen=True)
class Ask:
    status: AskStatus
    locked_until: datetime | None = None


def password_reset_ask(
    *, name: str, ip: str | None, now: datetime, marks: Marks | None, language: str
) -> Ask:
    """Someone asks for a link for the username or e-mail address `name`. The same work
    for every name: a turn in the name's budget, the ask counted there as a failure and
    recorded (it counts in the address's hourly limit too), and the task that mails the
    persons it names (`password_links_send`) enqueued."""
    key = throttle_key(name)
    if address_blocked(ip, now):
        return Ask(AskStatus.REFUSED)
    budget = Budget.of(key, mark_of(marks or {}, key))
    turn = throttle_turn(budget, now)
    if turn.busy:
        return Ask(AskStatus.BUSY)
    if not turn.granted:
        with transaction.atomic():
            lock_refused(budget=budget, ip=ip, now=now)
        return Ask(AskStatus.LOCKED, turn.locked_until)
    with transaction.atomic():
        failure_record(budget=budget, user=None, ip=ip, now=now, action=Action.PASSWORD_RESET_ASKED)
        _enqueue(name=name[:NAME_MAX_LENGTH], ip=ip, language=language)
    return Ask(AskStatus.ASKED)


def _enqueue(*, name: str, ip: str | None, language: str) -> None:
    from .tasks import password_links  # the task module imports this one

    password_links.enqueue(name=name, ip=ip, language=language)


def password_links_send(*, name: str, ip: str | None, now: datetime, language: str) -> int:
    """The task's work: mail a reset link to the active person whose username is `name`,
    or else to each active person whose e-mail address it is. Returns how many."""
    users = list(User.objects.named(name).filter(is_active=True).select_related("person"))
    if not users and "@" in name:
        users = list(
            User.objects.filter(is_active=True, person__email__iexact=name.strip())
            .select_related("person")
            .order_by("pk")
        )
    return sum(
        password_link_send(user=user, kind=RESET_LINK, by=None, ip=ip, now=now, language=language)
        for user in users
    )


# --- Using a link ------------------------------------------------------------


def link_user(*, kind: str, uidb64: str, token: str) -> User | None:
    """The active person a valid link of `kind` names, or None."""
    if kind not in TOKENS or len(uidb64) > 20:
        return None
    try:
        pk = int(urlsafe_base64_decode(uidb64).decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        return None
    if not 0 < pk < 2**63:
        return None
    user = User.objects.filter(pk=pk, is_active=True).select_related("person").first()
    return user if TOKENS[kind].check_token(user, token) else None


class ConfirmWay(enum.Enum):
    CODE = "code"  # an access code of an active app, or a recovery code
    PASSWORD_ALONE = "password_alone"  # no factor, before the go-live
    BEHEERDER = "beheerder"  # no factor after the go-live, or a passkey only


def confirm_way(user: User, now: datetime) -> ConfirmWay:
    """What confirms a new password of `user` besides the link or the current password
    (mfa.factors decides): their app's code or a recovery code; nothing more for a person
    without any factor before the go-live; else only a beheerder can help."""
    factors = factors_of(user, now=now)
    if factors.any:
        return ConfirmWay.CODE if factors.apps or factors.recovery else ConfirmWay.BEHEERDER
    return ConfirmWay.PASSWORD_ALONE if factors.password_alone else ConfirmWay.BEHEERDER


def password_reset(
    *,
    user: User,
    kind: str,
    token: str,
    new_password: str,
    code: str,
    ip: str | None,
    now: datetime,
    marks: Marks | None = None,
) -> None:
    """Set the password of the person a valid link names, with their second factor
    (counted in their login budget, mfa.stepup). Raises AccountError: "ask_beheerder",
    "factor_failed", or "link_void" (used meanwhile)."""
    if confirm_way(user, now) is ConfirmWay.BEHEERDER:
        raise AccountError("ask_beheerder")
    if not step_up(
        user=user,
        password=None,
        code=code,
        ip=ip,
        now=now,
        marks=marks,
        password_alone=True,
        purpose=RESET,
    ):
        raise AccountError("factor_failed")
    with transaction.atomic():
        locked = User.objects.select_for_update().select_related("person").get(pk=user.pk)
        if not TOKENS[kind].check_token(locked, token):  # the one use: decided under the lock
            raise AccountError("link_void")
        _password_new(user=locked, password=new_password, via=kind, ip=ip, now=now, marks=marks)


def password_change(
    *,
    user: User,
    password: str,
    code: str,
    new_password: str,
    ip: str | None,
    now: datetime,
    marks: Marks | None = None,
) -> None:
    """A person changes their own password with their current one and a fresh second
    factor (step-up; the password alone for a person without any factor before the
    go-live). Every session of theirs ends: the caller keeps its own (session_keep).
    Raises AccountError("step_up_failed")."""
    if not step_up(
        user=user, password=password, code=code, ip=ip, now=now, marks=marks, password_alone=True
    ):
        raise AccountError("step_up_failed")
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()
        _password_new(user=user, password=new_password, via="change", ip=ip, now=now, marks=marks)


def _password_new(
    *, user: User, password: str, via: str, ip: str | None, now: datetime, marks: Marks | None
) -> None:
    """The person's new password: audited, every session ended, every other marked
    browser's trust ended (the old password may have signed a stranger's in), the
    person told."""
    password_set(user=user, password=password, by=user, ip=ip, via=via)
    sessions_end_all(user=user, by=user, ip=ip, now=now, reason="password")
    this_browser = mark_of(marks or {}, throttle_key(user.username))
    others = DeviceMark.objects.filter(user=user)
    (others.exclude(pk=this_browser.pk) if this_browser else others).delete()
    notify(
        user,
        _("Livits: your password was changed"),
        _(
            "The password of your account %(username)s was changed on %(when)s. Was this not "
            "you? Ask an administrator to block your account."
        )
        % {"username": user.username, "when": local_moment(now)},
        now=now,
    )
