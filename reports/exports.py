"""Cell values as the reports show them, and the streamed CSV and XLSX exports."""

import csv
import tempfile
from datetime import datetime

from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

EXCEL_DATE_FORMAT = "d-m-yyyy h:mm"
CHUNK = 2000


def display(value):
    """A cell as text; dates as in the manual, local time: 22-5-2017 13:59."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Ja" if value else "Nee"
    if isinstance(value, datetime):
        local = timezone.localtime(value)
        return f"{local.day}-{local.month}-{local.year} {local:%H:%M}"
    return str(value)


def _excel(value):
    if isinstance(value, bool):
        return "Ja" if value else "Nee"
    if isinstance(value, datetime):
        return timezone.localtime(value).replace(tzinfo=None)
    return value


class _Line:
    """A file-like object whose write() returns the line, for csv.writer in a generator."""

    def write(self, value):
        return value


def csv_lines(report, users):
    """UTF-8 with BOM and ';' between fields, so that Dutch Excel opens it as is."""
    writer = csv.writer(_Line(), delimiter=";")
    yield "\ufeff" + writer.writerow([column.header for column in report.columns])
    for user in users.iterator(chunk_size=CHUNK):
        yield writer.writerow([display(column.value(user)) for column in report.columns])


def xlsx_file(report, users):
    """An XLSX workbook written row by row (openpyxl write-only) into a temporary file."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=report.slug[:31])
    sheet.append([column.header for column in report.columns])
    for user in users.iterator(chunk_size=CHUNK):
        row = []
        for column in report.columns:
            value = _excel(column.value(user))
            if isinstance(value, datetime):
                value = WriteOnlyCell(sheet, value=value)
                value.number_format = EXCEL_DATE_FORMAT
            row.append(value)
        sheet.append(row)
    handle = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes it
    workbook.save(handle)
    handle.seek(0)
    return handle
