"""The Rechtenstructuur reports (manual 3.1): their columns, sorting and cell values.

Column headers are the report's field names as the manual shows them
(Informele_naam, MFA_aangemaakt, ...); exports use the same headers.
"""

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Column:
    header: str
    value: Any  # row -> raw value: str, int, bool, datetime or None
    order_by: tuple[str, ...]


@dataclass(frozen=True)
class Report:
    slug: str
    title: Any
    description: Any
    columns: tuple[Column, ...]
    sheet_name: str  # of the XLSX export: at most 31 characters

    def column(self, header):
        return next((column for column in self.columns if column.header == header), None)


def _person(attribute):
    return lambda user: getattr(user.person, attribute)


INFORMAL_NAME = Column(
    "Informele_naam",
    _person("informal_name"),
    ("person__first_name", "person__infix", "person__last_name", "pk"),
)
SORT_NAME = Column(
    "Sorteer_naam",
    _person("sort_name"),
    ("person__last_name", "person__first_name", "person__infix", "pk"),
)
LAST_LOGIN = Column("Laatste_login", lambda user: user.last_login, ("last_login", "pk"))
HIDDEN = Column("Verbergen_als_systeemgebruiker", lambda user: user.is_hidden, ("is_hidden", "pk"))

PERSONS_WITH_MFA = Report(
    slug="personen-met-mfa",
    title=_("Persons with MFA"),
    description=_("Overview of persons who configured MFA."),
    columns=(
        INFORMAL_NAME,
        SORT_NAME,
        Column("MFA_aangemaakt", lambda user: user.mfa_created_at, ("mfa_created_at", "pk")),
        Column("MFA_gewijzigd", lambda user: user.mfa_changed_at, ("mfa_changed_at", "pk")),
        Column("Aantal_apparaten", lambda user: user.device_count, ("device_count", "pk")),
        Column("Via_beheerder", lambda user: user.via_admin, ("via_admin", "pk")),
        Column("Tijdelijk_tot", lambda user: user.via_admin_until, ("via_admin_until", "pk")),
        LAST_LOGIN,
        HIDDEN,
    ),
    sheet_name="Personen met MFA",
)

LOGIN_STATS = Report(
    slug="systeemgebruikers-en-inlog-stats",
    title=_("System users and login stats"),
    description=_("Overview of system users and login statistics"),
    columns=(
        INFORMAL_NAME,
        Column("Gebruikersnaam", lambda user: user.username, ("username", "pk")),
        Column("Inloggen_als_systeemgebruiker", lambda user: user.is_active, ("is_active", "pk")),
        HIDDEN,
        Column("Aantal_inlogmomenten", lambda user: user.login_count, ("login_count", "pk")),
        LAST_LOGIN,
        Column("MFA_gekoppeld", lambda user: user.mfa_linked, ("mfa_linked", "pk")),
        Column(
            "Mislukte_pogingen_30_dagen", lambda user: user.failures_30d, ("failures_30d", "pk")
        ),
        Column("Nu_geblokkeerd", lambda user: user.locked_now, ("locked_now", "pk")),
    ),
    sheet_name="Systeemgebruikers inlog stats",
)

REPORTS = {report.slug: report for report in (PERSONS_WITH_MFA, LOGIN_STATS)}
