from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.utils.translation import gettext_lazy as _

from mfa.fields import LOGIN_REFUSALS, AccessCodeField

from .models import Person, User


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
        help_text=_("The 6 digits from your authenticator app, or one of your recovery codes."),
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

    The password is required when the system user is created and optional
    afterwards (empty keeps the current one). It is never shown.
    """

    error_messages = {
        **UsernameForm.error_messages,
        "password_mismatch": _("The two passwords do not match."),
    }

    password1 = forms.CharField(
        label=_("Password"),
        required=False,
        strip=False,
        max_length=1024,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label=_("Password (again)"),
        required=False,
        strip=False,
        max_length=1024,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    class Meta:
        model = User
        fields = ["username", "is_active", "is_hidden"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance._state.adding:
            self.fields["password1"].required = True
            self.fields["password2"].required = True
        else:
            self.fields["password1"].help_text = _("Leave empty to keep the current password.")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        if password1 or password2:
            if password1 != password2:
                self.add_error(
                    "password2",
                    forms.ValidationError(
                        self.error_messages["password_mismatch"], code="password_mismatch"
                    ),
                )
            else:
                self.instance.username = cleaned.get("username", self.instance.username)
                try:
                    password_validation.validate_password(str(password1), self.instance)
                except forms.ValidationError as error:
                    self.add_error("password1", error)
        return cleaned
