from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .fields import FILTERS
from .reports import Report

FILTER_LABELS = {
    "all": _("All"),
    "linked": _("Linked"),
    "unlinked": _("Not linked"),
    "never_reminded": _("Not linked, never reminded"),
    "via_admin": _("Via an administrator"),
    "with_passkey": _("With passkey"),
    "no_recovery": _("No recovery codes"),
}


class ReportQueryForm(forms.Form):
    """Filter, search and sort of a report; bad values fall back to the defaults."""

    show = forms.ChoiceField(choices=[(key, FILTER_LABELS[key]) for key in FILTERS], required=False)
    q = forms.CharField(label=_("Search"), max_length=100, required=False)
    sort = forms.ChoiceField(required=False)
    dir = forms.ChoiceField(choices=[("asc", "asc"), ("desc", "desc")], required=False)

    def __init__(self, data: Any, *, report: Report) -> None:
        super().__init__(data)
        self.fields["sort"] = forms.ChoiceField(
            required=False, choices=[(column.header, column.header) for column in report.columns]
        )

    def value(self, name: str, default: str) -> str:
        self.is_valid()  # invalid fields are left out of cleaned_data
        return str(self.cleaned_data.get(name) or default)
