"""What a person types to prove a second factor, read the same on every page that asks
for it (the login page in accounts, linking and step-up here), and the one answer a
refused login gets, whichever way it came (the login form or a passkey).

Forms of any app may use these, as they use mfa.models; no app imports another app's
forms or views.
"""

from collections.abc import Callable
from typing import Any

from django import forms
from django.utils.functional import lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import recovery as recovery_codes
from . import totp


def lazy_message(message: Callable[[], str]) -> str:
    """A message made when shown: in the language of the moment, with the limits the
    settings and constants give then."""
    return lazy(message, str)()


FORMAT_ERRORS = {
    "invalid_format": lazy_message(
        lambda: (
            gettext("Enter the %(digits)s digits of the access code from your authenticator app.")
            % {"digits": totp.DIGITS}
        )
    ),
    "invalid_format_or_recovery": lazy_message(
        lambda: (
            gettext(
                "Enter the %(digits)s digits of the access code from your authenticator app, "
                "or a recovery code."
            )
            % {"digits": totp.DIGITS}
        )
    ),
}
# The help under a field that takes an access code or a recovery code.
CODE_OR_RECOVERY_HELP = lazy_message(
    lambda: (
        gettext("The %(digits)s digits from your authenticator app, or one of your recovery codes.")
        % {"digits": totp.DIGITS}
    )
)

# The login's refusals: which of username, password or code was wrong is never said.
LOGIN_REFUSALS = {
    # An access code works once (replay protection): a person who typed the code the
    # beheerder just linked with (manual 4.2), or typed it twice, learns to wait.
    "invalid_login": _(
        "Login failed. Check your username, password and access code and try again. "
        "An access code works only once: wait for the next code in the app."
    ),
    # After the go-live: the same for every failure, with the way out for people
    # who have no app yet (it does not say whether the password was right).
    "invalid_login_live": _(
        "Login failed. Check your username, password and access code and try again. "
        "An access code works only once: wait for the next code in the app. "
        "No authenticator app linked yet? Ask an administrator to link MFA for you."
    ),
    # Locks apply to unknown account names too: this reveals no account.
    "locked": _(
        "Too many failed attempts from browsers this account has not signed in with. Try "
        "again after %(time)s, or log in from a browser you used before."
    ),
    # A browser the person signed in with has its own lock (mfa.throttle).
    "locked_browser": _("Too many failed attempts in this browser. Try again after %(time)s."),
    "busy": _("Other logins to this account are being checked right now. Try again in a moment."),
}


class AccessCodeField(forms.CharField):
    """The digits of an access code (totp.DIGITS), with or without a space in the middle;
    with `recovery`, a recovery
    code too (where a second factor is asked, not where an app is linked)."""

    # Django form fields take their options as untyped keywords (django-stubs: Any).
    def __init__(self, *, recovery: bool = False, **kwargs: Any) -> None:  # type: ignore[explicit-any]
        self.recovery = recovery
        kwargs.setdefault("label", _("Access code"))
        kwargs.setdefault("max_length", 24)
        attrs = {"autocomplete": "one-time-code", "size": 12 if recovery else 8}
        if not recovery:  # a numeric keypad on phones; a recovery code has letters
            attrs["inputmode"] = "numeric"
        kwargs.setdefault("widget", forms.TextInput(attrs=attrs))
        super().__init__(**kwargs)

    def clean(self, value: object) -> str:
        text = str(super().clean(value))  # CharField.clean gives a str
        if text in self.empty_values:
            return ""
        code = totp.normalize_code(text)
        if code is None and self.recovery:
            code = recovery_codes.normalize(text)
        if code is None:
            error = "invalid_format_or_recovery" if self.recovery else "invalid_format"
            raise forms.ValidationError(FORMAT_ERRORS[error], code="invalid_format")
        return code
