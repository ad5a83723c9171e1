"""Cell values as the reports show them, and the streamed CSV and XLSX exports.

Text from the CRM (names, usernames) is data, never a formula: a CSV cell that a
spreadsheet would read as one gets a leading apostrophe (OWASP's CSV-injection
advice), and XLSX cells are typed explicitly (reports/xlsx.py).
"""

import csv
import io
import itertools
import operator
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

from django.http import StreamingHttpResponse
from django.utils import dates, formats, timezone
from django.utils.translation import gettext as _

from . import xlsx
from .fields import FIELDS
from .reports import Report, Row
from .streams import Values

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# What spreadsheets take as the start of a formula (or a DDE command).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BATCH = 500  # rows written at a time
# The sheet's dates, as the screens show them (livits/formats), in Excel's notation.
EXCEL_DATE_FORMAT = {"nl": "d-m-yyyy hh:mm", "en": "d mmm yyyy hh:mm"}


# The letters of Django's date formats that the screens' formats use, made fast: an
# export formats hundreds of thousands of dates. As %-format fields over the moment's
# attributes; M (the month's abbreviation) is written into one template per month. Any
# other letter (or an escape) goes through Django.
_FAST = {
    "j": ("%d", "day"),
    "d": ("%02d", "day"),
    "n": ("%d", "month"),
    "m": ("%02d", "month"),
    "Y": ("%04d", "year"),
    "H": ("%02d", "hour"),
    "i": ("%02d", "minute"),
}


def _compiled_date_format() -> Callable[[datetime], str]:
    """The active language's SHORT_DATETIME_FORMAT (livits/formats), as one function."""
    pattern = str(formats.get_format("SHORT_DATETIME_FORMAT"))
    attributes = [_FAST[char][1] for char in pattern if char in _FAST]
    if (
        not attributes
        or "\\" in pattern
        or any(char.isalpha() and char not in _FAST and char != "M" for char in pattern)
    ):
        return lambda moment: formats.date_format(moment, "SHORT_DATETIME_FORMAT")

    def template(month: str) -> str:
        return "".join(
            _FAST[char][0] if char in _FAST else (month if char == "M" else char).replace("%", "%%")
            for char in pattern
        )

    months = [""] + [str(dates.MONTHS_3[month]).title() for month in range(1, 13)]
    templates = [template(month) for month in months]
    values = operator.attrgetter(*attributes)
    return lambda moment: templates[moment.month] % values(moment)


def _words() -> dict[bool, str]:
    return {True: _("Yes"), False: _("No")}


def _local_date_function() -> Callable[[datetime], str]:
    """A moment as local text in the active language's one format, looked up once."""
    date_text = _compiled_date_format()
    zone = timezone.get_current_timezone()
    return lambda moment: date_text(moment.astimezone(zone))


def display_function() -> Callable[[Any], str]:
    """display(), with the active language's words and date format looked up once."""
    words = _words()
    local_date = _local_date_function()

    def display(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return words[value]
        if isinstance(value, datetime):
            return local_date(value)
        return str(value)

    return display


def display(value: Any) -> str:
    """A cell as text in the active language; dates in the language's one format."""
    return display_function()(value)


def inert(text: str) -> str:
    """Text that no spreadsheet evaluates: a leading apostrophe before a formula start.

    A formula start is judged on the first visible character, in its compatibility form:
    invisible format characters before it (zero-width spaces and joiners, the BOM, bidi
    controls: Unicode category Cf) are skipped, and the full-width and small forms
    (＝ ＋ － ＠, ﹦ ﹢ ﹣ ﹫) count as the ASCII ones that NFKC folds them to."""
    if text[:1] <= "\x7f":  # ASCII: no invisible or compatibility forms to look through
        return "'" + text if text.startswith(FORMULA_STARTS) else text
    first = 0
    while first < len(text) and unicodedata.category(text[first]) == "Cf":
        first += 1
    start = unicodedata.normalize("NFKC", text[first : first + 1])
    return "'" + text if start.startswith(FORMULA_STARTS) else text


Cells = Callable[[list[Values]], list[str]]  # a batch of rows -> one column's cells


def _xlsx_columns(report: Report) -> list[Cells]:
    """Each column's XLSX cells as XML: words for yes/no, local dates as Excel dates,
    decided per column where its one field's kind is known (as _csv_columns)."""
    zone = timezone.get_current_timezone()
    yes_no = {value: xlsx.text_cell(word) for value, word in _words().items()}

    def general(value: Any) -> str:
        if isinstance(value, bool):
            return yes_no[value]
        if isinstance(value, datetime):
            return xlsx.date_cell(value.astimezone(zone))
        return xlsx.cell(value)

    def moment(value: datetime | None) -> str:
        return xlsx.EMPTY if value is None else xlsx.date_cell(value.astimezone(zone))

    return _columns(
        report,
        {
            "str": xlsx.text_cell,
            "int": xlsx.number_cell,
            "bool": yes_no.__getitem__,
            "datetime": moment,
        },
        general,
    )


def _csv_columns(report: Report) -> list[Cells]:
    """Each column's CSV cells: display() and inert(), decided per column where its one
    field's kind is known."""
    text = display_function()
    local_date = _local_date_function()

    def general(value: Any) -> str:
        return inert(value) if isinstance(value, str) else text(value)

    def moment(value: datetime | None) -> str:
        return "" if value is None else local_date(value)

    return _columns(
        report,
        {"str": inert, "int": str, "bool": _words().__getitem__, "datetime": moment},
        general,
    )


def _columns(
    report: Report, by_kind: dict[str, Callable[[Any], str]], general: Callable[[Any], str]
) -> list[Cells]:
    """Per column, its cells of a batch of rows (each the values of report.fields, in that
    order): by_kind[kind] of the value where the column shows one field (never None, or a
    datetime: those functions take None), else general() of the column's value.

    A column at a time: an export formats hundreds of thousands of rows, and most of its
    cells are then made by C functions (str, dict lookups) mapped over the column."""
    position = {name: index for index, name in enumerate(report.fields)}
    columns = []
    for column in report.columns:
        field = FIELDS[column.fields[0]] if len(column.fields) == 1 else None
        if field is not None and (not field.nullable or field.kind == "datetime"):
            columns.append(_reading(position[column.fields[0]], by_kind[field.kind]))
        else:
            places = {name: position[name] for name in column.fields}
            columns.append(_computing(column.value, places, general))
    return columns


def _reading(place: int, convert: Callable[[Any], str]) -> Cells:
    value = operator.itemgetter(place)
    return lambda rows: list(map(convert, map(value, rows)))


def _computing(
    value: Callable[[Row], Any], places: dict[str, int], convert: Callable[[Any], str]
) -> Cells:
    """convert() of a column's value, given the row of the fields it reads."""
    pairs = places.items()
    return lambda rows: [
        convert(value({name: values[place] for name, place in pairs})) for values in rows
    ]


def _rendered(columns: list[Cells], rows: Iterable[Values]) -> Iterator[Iterator[tuple[str, ...]]]:
    """The rows, a batch at a time, as their cells."""
    rows = iter(rows)
    while batch := list(itertools.islice(rows, BATCH)):
        yield zip(*[cells(batch) for cells in columns], strict=True)


def csv_chunks(report: Report, rows: Iterable[Values], size: int = 65536) -> Iterator[bytes]:
    """UTF-8 with BOM and ';' between fields, so that Dutch Excel opens it as is; the
    header at once (the download begins), then the rows in chunks of about `size` bytes
    (a chunk per line costs more than the line)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";")
    buffer.write("\ufeff")
    writer.writerow([column.header for column in report.columns])
    yield _taken(buffer)
    for lines in _rendered(_csv_columns(report), rows):
        writer.writerows(lines)
        if buffer.tell() >= size:
            yield _taken(buffer)
    yield _taken(buffer)


def _taken(buffer: io.StringIO) -> bytes:
    """What `buffer` holds, as UTF-8; the buffer emptied."""
    data = buffer.getvalue().encode()
    buffer.seek(0)
    buffer.truncate()
    return data


def xlsx_chunks(report: Report, rows: Iterable[Values], language: str) -> Iterator[bytes]:
    """The report as an XLSX workbook, streamed."""
    header = "".join(xlsx.text_cell(column.header) for column in report.columns)
    lines = itertools.chain.from_iterable(
        map("".join, cells) for cells in _rendered(_xlsx_columns(report), rows)
    )
    return xlsx.stream_cells(
        itertools.chain([header], lines),
        sheet_name=report.sheet_name,
        date_format=EXCEL_DATE_FORMAT.get(language, EXCEL_DATE_FORMAT["nl"]),
    )


def response(
    report: Report, rows: Iterable[Values], kind: str, *, language: str, filename: str
) -> StreamingHttpResponse:
    """The export as a download, streamed while the rows are read. `rows`: the values of
    report.fields, in that order (reports.streams.every_row)."""
    chunks = csv_chunks(report, rows) if kind == "csv" else xlsx_chunks(report, rows, language)
    download = StreamingHttpResponse(chunks, content_type=CONTENT_TYPES[kind])
    download["Content-Disposition"] = f'attachment; filename="{filename}.{kind}"'
    return download
