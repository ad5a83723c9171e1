"""The Rechtenstructuur reports (manual 3.1): their columns, sorting and cell values.

Column headers are the report's field names as the manual shows them
(Informele_naam, MFA_aangemaakt, ...); exports use the same headers. A column
names the fields it shows and sorts by (reports.fields.FIELDS); a report
selects exactly those.
"""

from collections.abc import Callable
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from django.utils.functional import Promise
from django.utils.html import escape, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from accounts.models import informal_name, sort_name

Row = dict[str, Any]
NAME = ("first_name", "infix", "last_name")
NAME_PARTS = itemgetter(*NAME)


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[Row], Any]  # row -> raw value: str, int, bool, datetime or None
    fields: tuple[str, ...]  # what `value` reads
    order_by: tuple[str, ...]  # sort keys; the id is added last

    @property
    def header_html(self) -> SafeString:
        """The header as the manual spells it, breakable after each underscore: a wide
        report fits the screen with every column in view (the exports keep it whole)."""
        *parts, last = self.header.split("_")
        return format_html_join("", "{}_<wbr>", ((part,) for part in parts)) + escape(last)


@dataclass(frozen=True)
class Report:
    slug: str
    title: Promise
    description: Promise
    columns: tuple[Column, ...]
    sheet_name: str  # of the XLSX export: at most 31 characters
    reminders: bool = False  # offers "Herinnering sturen aan niet-gekoppelde personen"

    def column(self, header: str) -> Column | None:
        return next((column for column in self.columns if column.header == header), None)

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(field for column in self.columns for field in column.fields))


def _field(name: str) -> Callable[[Row], Any]:
    return lambda row: row[name]


def _plain(header: str, name: str) -> Column:
    return Column(header, _field(name), (name,), (name,))


INFORMAL_NAME = Column(
    "Informele_naam",
    lambda row: informal_name(*NAME_PARTS(row)),
    NAME,
    ("first_name", "infix", "last_name"),
)
SORT_NAME = Column(
    "Sorteer_naam",
    lambda row: sort_name(*NAME_PARTS(row)),
    NAME,
    ("last_name", "first_name", "infix"),
)
LAST_LOGIN = _plain("Laatste_login", "last_login")
HIDDEN = _plain("Verbergen_als_systeemgebruiker", "is_hidden")

PERSONS_WITH_MFA = Report(
    slug="personen-met-mfa",
    title=_("Persons with MFA"),
    description=_("Overview of persons who configured MFA."),
    columns=(
        INFORMAL_NAME,
        SORT_NAME,
        _plain("MFA_aangemaakt", "mfa_created_at"),
        _plain("MFA_gewijzigd", "mfa_changed_at"),
        _plain("Aantal_apparaten", "device_count"),
        _plain("Aantal_passkeys", "passkey_count"),
        _plain("Via_beheerder", "via_admin"),
        _plain("Tijdelijk_tot", "via_admin_until"),
        _plain("Herstelcodes_ongebruikt", "recovery_unused"),
        _plain("Herinnerd_op", "mfa_reminded_at"),
        LAST_LOGIN,
        HIDDEN,
    ),
    sheet_name="Personen met MFA",
    reminders=True,
)

LOGIN_STATS = Report(
    slug="systeemgebruikers-en-inlog-stats",
    title=_("System users and login stats"),
    description=_("Overview of system users and login statistics"),
    columns=(
        INFORMAL_NAME,
        _plain("Gebruikersnaam", "username"),
        _plain("Inloggen_als_systeemgebruiker", "is_active"),
        HIDDEN,
        _plain("Aantal_inlogmomenten", "login_count"),
        LAST_LOGIN,
        _plain("MFA_gekoppeld", "mfa_linked"),
        _plain("Mislukte_pogingen_30_dagen", "failures_30d"),
        _plain("Nu_geblokkeerd", "locked_now"),
    ),
    sheet_name="Systeemgebruikers inlog stats",
)

REPORTS = {report.slug: report for report in (PERSONS_WITH_MFA, LOGIN_STATS)}
