"""Cell values as the reports show them, and the streamed CSV and XLSX exports.

Text from the CRM (names, usernames) is data, never a formula: a CSV cell that a
spreadsheet would read as one gets a leading apostrophe (OWASP's CSV-injection
advice), and XLSX cells are typed explicitly (reports/xlsx.py).
"""

import csv
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

from django.http import StreamingHttpResponse
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from . import xlsx
from .reports import Report, Row

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# What spreadsheets take as the start of a formula (or a DDE command).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# The sheet's dates, as the screens show them (livits/formats), in Excel's notation.
EXCEL_DATE_FORMAT = {"nl": "d-m-yyyy hh:mm", "en": "d mmm yyyy hh:mm"}


def display(value: Any) -> str:
    """A cell as text in the active language; dates in the language's one format."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, datetime):
        return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")
    return str(value)


def inert(text: str) -> str:
    """Text that no spreadsheet evaluates: a leading apostrophe before a formula start."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _csv_cell(value: Any) -> str:
    return inert(value) if isinstance(value, str) else display(value)


def _xlsx_cell(value: Any) -> Any:
    if isinstance(value, bool):
        return display(value)
    if isinstance(value, datetime):
        return timezone.localtime(value).replace(tzinfo=None)
    return value


class _Line:
    """A file-like object whose write() returns the line, for csv.writer in a generator."""

    def write(self, value: str) -> str:
        return value


def _cells(report: Report, rows: Iterable[Row], cell: Callable[[Any], Any]) -> Iterator[list[Any]]:
    yield [column.header for column in report.columns]
    for row in rows:
        yield [cell(column.value(row)) for column in report.columns]


def csv_lines(report: Report, rows: Iterable[Row]) -> Iterator[str]:
    """UTF-8 with BOM and ';' between fields, so that Dutch Excel opens it as is."""
    writer = csv.writer(_Line(), delimiter=";")
    for number, cells in enumerate(_cells(report, rows, _csv_cell)):
        yield ("\ufeff" if number == 0 else "") + writer.writerow(cells)


def xlsx_chunks(report: Report, rows: Iterable[Row], language: str) -> Iterator[bytes]:
    """The report as an XLSX workbook, streamed."""
    return xlsx.stream(
        _cells(report, rows, _xlsx_cell),
        sheet_name=report.sheet_name,
        date_format=EXCEL_DATE_FORMAT.get(language, EXCEL_DATE_FORMAT["nl"]),
    )


def response(
    report: Report, rows: Iterable[Row], kind: str, *, language: str, filename: str
) -> StreamingHttpResponse:
    """The export as a download, streamed while the rows are read."""
    chunks = csv_lines(report, rows) if kind == "csv" else xlsx_chunks(report, rows, language)
    download = StreamingHttpResponse(chunks, content_type=CONTENT_TYPES[kind])
    download["Content-Disposition"] = f'attachment; filename="{filename}.{kind}"'
    return download
