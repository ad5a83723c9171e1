import unicodedata
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from .text import validate_plain_text

USERNAME_MAX_LENGTH = 150


def canonical_username(value: str) -> str:
    """The one identity of a username: what login, throttle, uniqueness and reports compare.

    NFKC folds compatibility forms (full-width letters, the Kelvin sign, the 'fi'
    ligature, the long s) into their plain letters; casefold is Unicode's caseless
    match, applied in Python so that every database compares the same string.
    """
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())
    return folded.strip()


def validate_username_canonical_length(value: str) -> None:
    if len(canonical_username(value)) > USERNAME_MAX_LENGTH:
        raise ValidationError(
            _("This username is too long."), code="username_too_long", params={"value": value}
        )


def informal_name(first_name: str, infix: str, last_name: str) -> str:
    """'Rob', 'de', 'Wit' -> 'Rob de Wit'."""
    return " ".join(part for part in (first_name, infix, last_name) if part)


def sort_name(first_name: str, infix: str, last_name: str) -> str:
    """Dutch sorting puts the infix after the given name: 'Wit, Rob de'."""
    rest = " ".join(part for part in (first_name, infix) if part)
    return f"{last_name}, {rest}" if rest else last_name


class RelationType(models.TextChoices):
    PERSON = "person", _("Person")
    MEMBER = "member", _("Member")
    DONOR = "donor", _("Donor")
    VOLUNTEER = "volunteer", _("Volunteer")
    EMPLOYEE = "employee", _("Employee")


class MemberStatus(models.TextChoices):
    NONE = "none", _("Not a member")
    PROSPECT = "prospect", _("Prospective member")
    ACTIVE = "active", _("Member")
    CANCELLED = "cancelled", _("Cancelled")


class Person(models.Model):
    """A relation in the CRM. Most persons never log in; those who do have a User."""

    RelationType = RelationType
    MemberStatus = MemberStatus

    # Names go into mails, exports and the audit trail: no control characters.
    first_name = models.CharField(_("first name"), max_length=100, validators=[validate_plain_text])
    infix = models.CharField(
        _("infix"), max_length=20, blank=True, validators=[validate_plain_text]
    )
    last_name = models.CharField(_("last name"), max_length=100, validators=[validate_plain_text])
    address = models.CharField(_("preferred address"), max_length=200, blank=True)
    phone = models.CharField(_("preferred phone"), max_length=30, blank=True)
    mobile = models.CharField(_("preferred mobile"), max_length=30, blank=True)
    email = models.EmailField(_("preferred email"), max_length=254, blank=True)
    relation_type = models.CharField(
        _("relation type"), max_length=20, choices=RelationType, default=RelationType.PERSON
    )
    member_status = models.CharField(
        _("member status"), max_length=20, choices=MemberStatus, default=MemberStatus.NONE
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("persons")
        ordering = ["last_name", "first_name", "infix", "id"]
        indexes = [models.Index(fields=["last_name", "first_name", "infix"])]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(last_name=""), name="accounts_person_last_name_not_empty"
            ),
            models.CheckConstraint(
                condition=models.Q(relation_type__in=RelationType.values),
                name="accounts_person_relation_type_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(member_status__in=MemberStatus.values),
                name="accounts_person_member_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.informal_name

    @property
    def informal_name(self) -> str:
        return informal_name(self.first_name, self.infix, self.last_name)

    @property
    def sort_name(self) -> str:
        return sort_name(self.first_name, self.infix, self.last_name)

    @property
    def rel_code(self) -> str:
        """The relation code: generated from the primary key, so unique by construction."""
        return str(self.pk) if self.pk else ""


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def bulk_create(self, objs: Iterable["User"], *args: Any, **kwargs: Any) -> list["User"]:
        users = list(objs)
        for user in users:  # save() is skipped: keep the canonical username all the same
            user.username_canonical = canonical_username(user.username)
        return super().bulk_create(users, *args, **kwargs)

    def named(self, username: str) -> "models.QuerySet[User]":
        """The account `username` names in any compatible spelling: the one lookup by name."""
        return self.filter(username_canonical=canonical_username(username))

    def get_by_natural_key(self, username: str | None) -> "User":
        return self.named(username or "").get()

    def create_user(
        self,
        username: str,
        password: str | None = None,
        *,
        person: Person | None = None,
        **extra_fields: Any,
    ) -> "User":
        if not username:
            raise ValueError("A system user needs a username.")
        username = self.model.normalize_username(username).strip()
        if person is None:
            person = Person.objects.create(first_name="", last_name=username)
        user = self.model(username=username, person=person, **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(
        self,
        username: str,
        password: str | None = None,
        email: str | None = None,
        **extra_fields: Any,
    ) -> "User":
        extra_fields.update(is_staff=True, is_superuser=True)
        person = Person.objects.create(first_name="", last_name=username, email=email or "")
        return self.create_user(username, password, person=person, **extra_fields)


class User(AbstractBaseUser, PermissionsMixin):
    """The system user: the login account of one person."""

    person = models.OneToOneField(
        Person, on_delete=models.CASCADE, related_name="system_user", verbose_name=_("person")
    )
    username = models.CharField(
        _("username"),
        max_length=USERNAME_MAX_LENGTH,
        unique=True,
        validators=[UnicodeUsernameValidator(), validate_username_canonical_length],
        help_text=_("Letters, digits and @/./+/-/_ only."),
    )
    # canonical_username(username), kept by save(): logins look accounts up here.
    username_canonical = models.CharField(
        max_length=USERNAME_MAX_LENGTH, unique=True, editable=False
    )
    is_active = models.BooleanField(_("log in as system user"), default=True)
    is_hidden = models.BooleanField(
        _("hide as system user"), default=False, help_text=_("(still selectable in lists)")
    )
    is_staff = models.BooleanField(_("Django admin access"), default=False)
    login_count = models.PositiveIntegerField(_("number of logins"), default=0)
    date_joined = models.DateTimeField(_("created at"), default=timezone.now)
    # Written by mfa.devices.mfa_changed: when the current set of devices began (empty
    # while the user has none) and when it last changed after that.
    mfa_created_at = models.DateTimeField(_("MFA created"), null=True, blank=True, editable=False)
    mfa_changed_at = models.DateTimeField(_("MFA changed"), null=True, blank=True, editable=False)
    # The WebAuthn user handle of this account's passkeys: random, never the username
    # or the primary key (made with the first passkey).
    passkey_handle = models.CharField(max_length=64, unique=True, null=True, editable=False)
    # When the last reminder to link an app was sent (mfa.rollout.reminders_send).
    mfa_reminded_at = models.DateTimeField(_("reminded"), null=True, blank=True, editable=False)
    # Part of every session's auth hash: one UPDATE that raises it ends every session of
    # the person at its next request, on every worker and host (mfa.factors.sessions_end_all).
    session_epoch = models.PositiveIntegerField(default=0, editable=False)
    # Raised when a beheerder unlinks MFA: the person's sessions end, except those signed
    # in with the temporary app a beheerder linked (manual 4.3: the person links their own
    # app in that session). Checked by mfa.middleware.session_guard.
    unlink_epoch = models.PositiveIntegerField(default=0, editable=False)
    # Part of every password link's token (accounts.passwords): raised with each new link,
    # so that a newer link voids the older ones.
    password_link_epoch = models.PositiveIntegerField(default=0, editable=False)

    objects = UserManager()

    USERNAME_FIELD = "username"
    REQUIRED_FIELDS = []

    class Meta:
        verbose_name = _("system user")
        verbose_name_plural = _("system users")
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(username_canonical=""),
                name="accounts_user_username_canonical_set",
            ),
            # The otpauth label of authenticator apps is "issuer:account".
            models.CheckConstraint(
                condition=~models.Q(username__contains=":"), name="accounts_user_username_no_colon"
            ),
        ]

    def __str__(self) -> str:
        return self.username

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.username_canonical = canonical_username(self.username)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "username" in update_fields:
            kwargs["update_fields"] = {*update_fields, "username_canonical"}
        super().save(*args, **kwargs)

    def _get_session_auth_hash(self, secret: str | None = None) -> str:
        """Django's session check (the password hash), with the session epoch: a new
        password or a raised epoch ends the person's sessions. At epoch 0 the hash is
        Django's own, so sessions opened before the epoch existed go on."""
        key_salt = "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash"
        value = f"{self.password}:{self.session_epoch}" if self.session_epoch else self.password
        return salted_hmac(key_salt, value, secret=secret, algorithm="sha256").hexdigest()

    def get_full_name(self) -> str:
        return self.person.informal_name

    def get_short_name(self) -> str:
        return self.person.first_name or self.username
