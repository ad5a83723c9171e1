"""A streamed XLSX writer: one sheet, rows written as they come, bytes out as they are made.

An XLSX file is a zip of XML parts. The sheet is deflated into the zip while the
rows arrive (zipfile writes to a stream that cannot seek by adding data
descriptors), so the first bytes leave before the last row is read and memory
does not grow with the number of rows. Cells are typed explicitly: text is an
inline string (never a formula, whatever it starts with), numbers are numbers and
datetimes are Excel dates with a date format.
"""

import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

EXCEL_EPOCH = datetime(1899, 12, 30)
DATE_STYLE = 1  # index into cellXfs of styles.xml below

_CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>
<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>
<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>
</Types>"""
_ROOT_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>
</Relationships>"""
_WORKBOOK = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">
<sheets><sheet name="{name}" sheetId="1" r:id="rId1"/></sheets>
</workbook>"""
_WORKBOOK_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>
<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>
</Relationships>"""
_STYLES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">
<numFmts count="1"><numFmt numFmtId="164" formatCode="{date_format}"/></numFmts>
<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>
<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>
<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>
<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>
<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>
<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>
</styleSheet>"""
_SHEET_START = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" '
    'activePane="bottomLeft" state="frozen"/></sheetView></sheetViews><sheetData>'
)
_SHEET_END = "</sheetData></worksheet>"

# XML 1.0 cannot hold most control characters (and turns a carriage return into a
# line feed); OOXML writes them as _xHHHH_, and a literal "_xHHHH_" gets its
# underscore escaped the same way.
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\ufffe\uffff]|_(?=x[0-9A-Fa-f]{4}_)")


def _text(value: str) -> str:
    return escape(_UNSAFE.sub(lambda match: f"_x{ord(match.group()):04X}_", value))


EMPTY = "<c/>"


def number_cell(value: int | float) -> str:
    return f"<c><v>{value!r}</v></c>"


def date_cell(value: datetime) -> str:
    """A naive datetime (local time) as an Excel date."""
    serial = (value.replace(tzinfo=None) - EXCEL_EPOCH).total_seconds() / 86400
    return f'<c s="{DATE_STYLE}"><v>{serial!r}</v></c>'


def text_cell(value: str) -> str:
    if not value:
        return EMPTY
    return f'<c t="inlineStr"><is><t xml:space="preserve">{_text(value)}</t></is></c>'


def cell(value: Any) -> str:
    """A cell of any of the values stream() takes."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool):
        raise TypeError("booleans are written as words; give the text")
    if isinstance(value, int | float):
        return number_cell(value)
    if isinstance(value, datetime):
        return date_cell(value)
    return text_cell(str(value))


class _Sink(io.RawIOBase):
    """Collects what zipfile writes until the generator hands it on; cannot seek."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


def stream(
    rows: Iterable[list[Any]], *, sheet_name: str, date_format: str, flush_every: int = 500
) -> Iterator[bytes]:
    """Bytes of an XLSX file whose one sheet holds `rows` (lists of cell values).

    Values: str (text), int/float, naive datetime (local time), None (empty).
    """
    return stream_cells(
        ("".join(map(cell, row)) for row in rows),
        sheet_name=sheet_name,
        date_format=date_format,
        flush_every=flush_every,
    )


def stream_cells(
    rows: Iterable[str], *, sheet_name: str, date_format: str, flush_every: int = 500
) -> Iterator[bytes]:
    """stream() of rows given as their cells' XML (made by the *_cell functions)."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in (
            ("[Content_Types].xml", _CONTENT_TYPES),
            ("_rels/.rels", _ROOT_RELS),
            ("xl/workbook.xml", _WORKBOOK.format(name=_text(sheet_name[:31]))),
            ("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS),
            ("xl/styles.xml", _STYLES.format(date_format=_text(date_format))),
        ):
            archive.writestr(name, text)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            yield sink.take()  # the parts before the rows: the download begins
            sheet.write(_SHEET_START.encode())
            pending = []
            for count, row in enumerate(rows, start=1):
                pending.append("<row>" + row + "</row>")
                if count % flush_every == 0:
                    sheet.write("".join(pending).encode())
                    pending.clear()
                    yield sink.take()
            sheet.write(("".join(pending) + _SHEET_END).encode())
    yield sink.take()
