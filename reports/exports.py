"""Cell values as the reports show them, and the streamed CSV and XLSX exports.

Text from the CRM (names, usernames) is data, never a formula: a CSV cell that a
spreadsheet would read as one gets a leading apostrophe (OWASP's CSV-injection
advice), and XLSX cells are typed explicitly (reports/xlsx.py).
"""

import csv
from datetime import datetime

from django.utils import formats, timezone
from django.utils.translation import gettext as _

from . import xlsx

CHUNK = 2000
# What spreadsheets take as the start of a formula (or a DDE command).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# The sheet's dates, as the screens show them (livits/formats), in Excel's notation.
EXCEL_DATE_FORMAT = {"nl": "d-m-yyyy hh:mm", "en": "d mmm yyyy hh:mm"}


def display(value):
    """A cell as text in the active language; dates in the language's one format."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, datetime):
        return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")
    return str(value)


def inert(text):
    """Text that no spreadsheet evaluates: a leading apostrophe before a formula start."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _csv_cell(value):
    return inert(value) if isinstance(value, str) else display(value)


def _xlsx_cell(value):
    if isinstance(value, bool):
        return display(value)
    if isinstance(value, datetime):
        return timezone.localtime(value).replace(tzinfo=None)
    return value


class _Line:
    """A file-like object whose write() returns the line, for csv.writer in a generator."""

    def write(self, value):
        return value


def _rows(report, users, cell):
    yield [column.header for column in report.columns]
    for user in users.iterator(chunk_size=CHUNK):
        yield [cell(column.value(user)) for column in report.columns]


def csv_lines(report, users):
    """UTF-8 with BOM and ';' between fields, so that Dutch Excel opens it as is."""
    writer = csv.writer(_Line(), delimiter=";")
    for number, row in enumerate(_rows(report, users, _csv_cell)):
        yield ("\ufeff" if number == 0 else "") + writer.writerow(row)


def xlsx_chunks(report, users, language):
    """The report as an XLSX workbook, streamed."""
    return xlsx.stream(
        _rows(report, users, _xlsx_cell),
        sheet_name=str(report.sheet_name),
        date_format=EXCEL_DATE_FORMAT.get(language, EXCEL_DATE_FORMAT["nl"]),
    )
