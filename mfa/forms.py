from datetime import datetime
from typing import Any

from django import forms
from django.conf import settings
from django.utils import formats
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

from accounts.models import User
from accounts.text import validate_plain_text
from livits import clock

from . import network, totp
from .fields import FORMAT_ERRORS, AccessCodeField, lazy_message
from .models import (
    GO_LIVE_EARLIEST,
    GO_LIVE_LATEST,
    Device,
    DeviceMark,
    Passkey,
    TrustedLocation,
    moment_in_range,
)


def _moment_bounds() -> dict[str, str]:
    return {
        "earliest": formats.date_format(GO_LIVE_EARLIEST, "SHORT_DATE_FORMAT"),
        "latest": formats.date_format(GO_LIVE_LATEST, "SHORT_DATE_FORMAT"),
    }


CODE_ERRORS: dict[str, StrOrPromise] = {
    **FORMAT_ERRORS,
    "invalid_code": lazy_message(
        lambda: (
            gettext(
                "This access code is not right. Enter the code your app shows now; it changes "
                "every %(seconds)d seconds."
            )
            % {"seconds": totp.STEP_SECONDS}
        )
    ),
    "already_linked": _("This device is already linked."),
    "too_many_devices": lazy_message(
        lambda: (
            ngettext(
                "You cannot link more than %(count)d device. Remove it first.",
                "You cannot link more than %(count)d devices. Remove one first.",
                settings.MFA_MAX_DEVICES,
            )
            % {"count": settings.MFA_MAX_DEVICES}
        )
    ),
    "gone": _("This device has already been removed."),
    "name_taken": _("You already have a device with this name."),
    "step_up_failed": _("The password or access code is not right."),
    "already_has_mfa": _(
        "This user already has MFA linked (perhaps by someone else meanwhile). Unlink the "
        "current MFA code first."
    ),
    "not_linked": _("This user has no linked MFA (any more): there is nothing to unlink."),
    "expiry_in_past": _("The end of the temporary access must lie in the future."),
    "out_of_range": lazy_message(
        lambda: gettext("Enter a moment between %(earliest)s and %(latest)s.") % _moment_bounds()
    ),
    "go_live_out_of_range": lazy_message(
        lambda: (
            gettext("Enter a go-live moment between %(earliest)s and %(latest)s.")
            % _moment_bounds()
        )
    ),
    "go_live_without_own_mfa": _(
        "Link an authenticator app to your own account first (the padlock at the top right): "
        "after the go-live you could not log in without it."
    ),
    "passkeys_off": _("Passkeys are not allowed in this installation."),
    "passkey_refused": _(
        "The passkey could not be added. Try again; your browser asks for it anew."
    ),
    "passkey_known": _("This passkey is already linked."),
    "sessions_unavailable": _(
        "The session could not be ended now: the session store cannot be reached. Try again "
        "in a moment."
    ),
    "last_device_after_go_live": _(
        "After the go-live of MFA you cannot remove your last device: you could no longer "
        "log in. Link another device first, or ask an administrator."
    ),
}


class MfaForm(forms.Form):
    error_messages = CODE_ERRORS

    def refuse(self, code: str, field: str | None = "code") -> None:
        self.add_error(field, forms.ValidationError(self.error_messages[code], code=code))


class LinkForm(MfaForm):
    code = AccessCodeField(label=_("Enter the access code here"))


class AdminLinkForm(LinkForm):
    """A beheerder links their own app for someone else (manual 4.2)."""

    expires_at = forms.DateTimeField(
        label=_("Temporary access until"),
        required=False,
        help_text=_("Empty: until an administrator unlinks it."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def clean_expires_at(self) -> datetime | None:
        expires_at: datetime | None = self.cleaned_data["expires_at"]
        if expires_at is not None and expires_at <= clock.now():
            raise forms.ValidationError(
                self.error_messages["expiry_in_past"], code="expiry_in_past"
            )
        if expires_at is not None and not moment_in_range(expires_at):
            raise forms.ValidationError(self.error_messages["out_of_range"], code="out_of_range")
        return expires_at


class StepUpForm(MfaForm):
    """The padlock page's one confirmation: password and a fresh second factor, after
    which the session may change its factors for a while (MFA_STEP_UP_SECONDS)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "step_up_%s")
        super().__init__(*args, **kwargs)

    password = forms.CharField(
        label=_("Password"),
        max_length=1024,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    code = AccessCodeField(recovery=True)


class DeviceRemoveForm(MfaForm):
    """Remove one of one's own devices: its button on the padlock page, in a session that
    has just confirmed (StepUpForm)."""

    device = forms.ModelChoiceField[Device](label=_("Device"), queryset=Device.objects.none())

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choice = self.fields["device"]
        assert isinstance(choice, forms.ModelChoiceField)
        choice.queryset = user.mfa_devices.all()


class PasskeyRemoveForm(MfaForm):
    passkey = forms.ModelChoiceField[Passkey](label=_("Passkey"), queryset=Passkey.objects.none())

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choice = self.fields["passkey"]
        assert isinstance(choice, forms.ModelChoiceField)
        choice.queryset = user.passkeys.all()


class SessionEndForm(StepUpForm):
    """Password and a fresh second factor before ending sessions (mfa/views/sessions.py)."""

    id_prefix = "session_end"


class MarkForgetForm(forms.Form):
    mark = forms.ModelChoiceField[DeviceMark](queryset=DeviceMark.objects.none())

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choice = self.fields["mark"]
        assert isinstance(choice, forms.ModelChoiceField)
        choice.queryset = user.device_marks.all()


class PasskeyAddForm(MfaForm):
    """The name a person gives a new passkey ("Laptop", "YubiKey"); the credential
    itself comes from the browser."""

    name = forms.CharField(
        label=_("Name of the passkey"), max_length=50, validators=[validate_plain_text]
    )
    credential = forms.JSONField()


class PasskeysAllowedForm(forms.Form):
    allowed = forms.BooleanField(label=_("Allow passkeys"), required=False)


class DeviceRenameForm(MfaForm):
    name = forms.CharField(label=_("Name"), max_length=50, validators=[validate_plain_text])


class TrustedLocationForm(forms.ModelForm[TrustedLocation]):
    """A trusted location, added or changed, from MFA-instellingen and from
    `manage.py mfa trusted add`: both take its rules and their messages from here."""

    error_messages = {
        "invalid_network": _("Enter a valid IPv4 or IPv6 network, e.g. 192.0.2.0/24."),
        "network_too_broad": _(
            "This network is too broad: from it no access code would be asked of a large "
            "part of the internet. Enter at most a /%(ipv4)s (IPv4) or /%(ipv6)s (IPv6)."
        ),
        "network_embeds_ipv4": _(
            "This IPv6 network holds IPv4 addresses (as %(embedding)s addresses), as many as "
            "an IPv4 /%(width)s: from it no access code would be asked of a large part of the "
            "internet. Enter a network that holds at most an IPv4 /%(ipv4)s."
        ),
        "network_taken": _("This network is already a trusted location."),
        "network_overlaps": _(
            "This network overlaps the trusted location %(name)s (%(network)s): change that "
            "one instead."
        ),
    }

    class Meta:
        model = TrustedLocation
        fields = ["name", "network"]
        help_texts = {"network": _("An IPv4 or IPv6 network, e.g. 192.0.2.0/24 or 2001:db8::/48.")}

    def clean_network(self) -> str:
        widest = {"ipv4": network.WIDEST_PREFIX[4], "ipv6": network.WIDEST_PREFIX[6]}
        try:
            net = network.trusted_network(self.cleaned_data["network"])
        except network.NetworkTooBroad as refused:
            code = f"network_{refused.reason}"
            params = {**widest, "width": refused.prefixlen, "embedding": refused.embedding}
            raise forms.ValidationError(
                self.error_messages[code], code=code, params=params
            ) from None
        except ValueError:
            raise forms.ValidationError(
                self.error_messages["invalid_network"], code="invalid_network"
            ) from None
        others = dict(
            TrustedLocation.objects.exclude(pk=self.instance.pk).values_list("network", "name")
        )
        found = network.overlapping(net, others)
        if found is not None and network.parse_network(found) == net:
            raise forms.ValidationError(self.error_messages["network_taken"], code="network_taken")
        if found is not None:
            raise forms.ValidationError(
                self.error_messages["network_overlaps"],
                code="network_overlaps",
                params={"name": others[found], "network": found},
            )
        return str(net)

    def validate_unique(self) -> None:
        """Not the model's own check: clean_network's overlap rule covers an equal network
        (with our message), and the unique constraint guards the write."""

    def refuse(self, code: str) -> None:
        """The network refused after validation, e.g. "network_taken" when the database's
        unique constraint turned away a network added by someone else meanwhile."""
        self.add_error("network", forms.ValidationError(self.error_messages[code], code=code))


class IssuerForm(forms.Form):
    issuer = forms.CharField(
        label=_("Issuer name"),
        max_length=50,
        help_text=_("The name under which authenticator apps show Livits."),
    )

    def clean_issuer(self) -> str:
        issuer = totp.issuer_clean(self.cleaned_data["issuer"])
        if not issuer:
            raise forms.ValidationError(_("Enter a name."), code="required")
        return issuer


class ReminderForm(forms.Form):
    include_hidden = forms.BooleanField(
        label=_("Also hidden system users"),
        required=False,
        help_text=_("Hidden system users are left out unless you tick this."),
    )


class GoLiveForm(forms.Form):
    error_messages = CODE_ERRORS

    at = forms.DateTimeField(
        label=_("Go-live moment"),
        required=False,
        help_text=_("Empty: now."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def clean_at(self) -> datetime | None:
        at: datetime | None = self.cleaned_data["at"]
        if at is not None and not moment_in_range(at):
            raise forms.ValidationError(
                self.error_messages["go_live_out_of_range"], code="go_live_out_of_range"
            )
        return at

    def refuse(self, code: str) -> None:
        self.add_error(None, forms.ValidationError(self.error_messages[code], code=code))
