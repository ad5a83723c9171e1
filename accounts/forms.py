from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import SetPasswordForm
from django.core.validators import MaxLengthValidator
from django.utils.translation import gettext_lazy as _

from mfa.fields import CODE_OR_RECOVERY_HELP, LOGIN_REFUSALS, AccessCodeField

from .models import Person, User

PASSWORD_MAX_LENGTH = 1024


class LoginForm(forms.Form):
    """Username, password and access code. Which of them was wrong is never said."""

    error_messages = LOGIN_REFUSALS

    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        widget=forms.TextInput(
            attrs={"autofocus": True, "autocomplete": "username", "class": "form-control"}
        ),
    )
    password = forms.CharField(
        label=_("Password"),
        max_length=1024,
        strip=False,
        widget=forms.PasswordInput(
            attrs={"autocomplete": "current-password", "class": "form-control"}
        ),
    )
    code = AccessCodeField(
        required=False,
        recovery=True,
        help_text=CODE_OR_RECOVERY_HELP,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["code"].widget.attrs["class"] = "form-control"

    def refuse(self, code: str, **params: str) -> None:
        message = self.error_messages[code] % params if params else self.error_messages[code]
        self.add_error(None, forms.ValidationError(message, code=code))


class PersonSearchForm(forms.Form):
    q = forms.CharField(label=_("Search"), max_length=100, required=False)


class PersonForm(forms.ModelForm[Person]):
    class Meta:
        model = Person
        fields = [
            "first_name",
            "infix",
            "last_name",
            "address",
            "phone",
            "mobile",
            "email",
            "relation_type",
            "member_status",
        ]


class UsernameForm(forms.ModelForm[User]):
    """A form that names a system user: the CRM's system user form and the Django admin's.

    Usernames are unique by their canonical form (accounts.models.canonical_username):
    the database refuses `BEHEERDER` beside `beheerder`, and this says so on the field.
    """

    error_messages = {"username_taken": _("This username is already taken.")}

    def clean_username(self) -> str:
        username = str(self.cleaned_data["username"]).strip()
        taken = User.objects.named(username).exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError(
                self.error_messages["username_taken"], code="username_taken"
            )
        return username


class SystemUserForm(UsernameForm):
    """The system user section of a person: create it, or edit it ("Bewerken").

    The password is typed here, or the person is mailed a link to set it themselves
    ("Stuur een link om het wachtwoord in te stellen", accounts.passwords): one of the two
    when the system user is created, either or neither afterwards (empty keeps the
    current one). It is never shown.
    """

    error_messages = {
        **UsernameForm.error_messages,
        "password_mismatch": _("The two passwords do not match."),
        "password_or_link": _("Type a password, or send a link to set it."),
        "password_and_link": _("Type a password or send a link, not both."),
        "no_email": _("This person has no e-mail address: type a password instead."),
    }

    password1 = forms.CharField(
        label=_("Password"),
        required=False,
        strip=False,
        max_length=PASSWORD_MAX_LENGTH,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label=_("Password (again)"),
        required=False,
        strip=False,
        max_length=PASSWORD_MAX_LENGTH,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    send_link = forms.BooleanField(
        label=_("Send a link to set the password"),
        required=False,
        help_text=_("The person receives a mail with a link, valid for 72 hours."),
    )

    class Meta:
        model = User
        fields = ["username", "is_active", "is_hidden"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.instance._state.adding:
            self.fields["password1"].help_text = _("Leave empty to keep the current password.")

    def _refuse(self, field: str, code: str) -> None:
        self.add_error(field, forms.ValidationError(self.error_messages[code], code=code))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        send_link = cleaned.get("send_link")
        if send_link and (password1 or password2):
            self._refuse("send_link", "password_and_link")
        elif send_link and not self.instance.person.email:
            self._refuse("send_link", "no_email")
        elif password1 or password2:
            if password1 != password2:
                self._refuse("password2", "password_mismatch")
            else:
                self.instance.username = cleaned.get("username", self.instance.username)
                try:
                    password_validation.validate_password(str(password1), self.instance)
                except forms.ValidationError as error:
                    self.add_error("password1", error)
        elif self.instance._state.adding and not send_link:
            self._refuse("password1", "password_or_link")
        return cleaned


class NewPasswordForm(SetPasswordForm):  # type: ignore[type-arg]
    """Django's new password twice, checked by AUTH_PASSWORD_VALIDATORS for the person (a
    message per problem, Django's own, translated), and the person's second factor: an
    access code or a recovery code (`needs_code`; mfa.factors decides). The page a
    password link opens."""

    code = AccessCodeField(
        recovery=True,
        help_text=CODE_OR_RECOVERY_HELP,
    )

    def __init__(self, user: User, *args: Any, needs_code: bool = True, **kwargs: Any) -> None:
        super().__init__(user, *args, **kwargs)
        for name in ("new_password1", "new_password2"):
            field = self.fields[name]
            field.validators.append(MaxLengthValidator(PASSWORD_MAX_LENGTH))
            field.widget.attrs["maxlength"] = str(PASSWORD_MAX_LENGTH)
        if not needs_code:
            del self.fields["code"]
        for field in self.fields.values():
            field.widget.attrs["class"] = "form-control"


class PasswordChangeForm(NewPasswordForm):
    """ "Wachtwoord wijzigen": the current password and a second factor (step-up), and the
    new password twice."""

    field_order = ["password", "code", "new_password1", "new_password2"]

    password = forms.CharField(
        label=_("Current password"),
        max_length=PASSWORD_MAX_LENGTH,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class PasswordForgotForm(forms.Form):
    """ "Wachtwoord vergeten": the username or the e-mail address."""

    name = forms.CharField(
        label=_("Username or e-mail address"),
        max_length=254,
        widget=forms.TextInput(
            attrs={"autofocus": True, "autocomplete": "username", "class": "form-control"}
        ),
    )
