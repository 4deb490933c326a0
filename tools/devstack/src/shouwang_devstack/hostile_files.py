"""Spreadsheets an attacker would upload, for the tests of every import (census, roster).

- `dimension_bomb`: a real workbook whose sheet claims `A1:XFD1048576` (openpyxl pads rows to
  the claim) and, with `far_cell`, really holds one cell at XFD1048576;
- `wide_row`: a real workbook with one cell far to the right of its header;
- `shared_strings_bomb`: a few hundred kilobytes that unpack to `unpacked_mib` of shared
  strings (deflate squeezes a repeated string about a thousand times).

Each is a valid zip that `openpyxl.load_workbook` opens.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence

import openpyxl

_SHEET = "xl/worksheets/sheet1.xml"
_SHARED_STRINGS_TYPE = (
    b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
    b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
)


def _workbook(rows: Sequence[Sequence[object]]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _rewritten(xlsx: bytes, member: str, change: dict[bytes, bytes]) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(xlsx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == member:
                for old, new in change.items():
                    assert old in content, old
                    content = content.replace(old, new, 1)
            target.writestr(info, content)
    return out.getvalue()


def dimension_bomb(header: Sequence[object], *, far_cell: bool = True) -> bytes:
    """A workbook with `header` whose sheet claims the whole grid, and (with `far_cell`)
    holds a cell in its last row and column."""
    xlsx = _workbook([header])
    last = len(header)
    last_column = chr(ord("A") + last - 1)
    change = {
        f'<dimension ref="A1:{last_column}1" />'.encode(): b'<dimension ref="A1:XFD1048576" />'
    }
    if far_cell:
        change[b"</sheetData>"] = (
            b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
            b"</sheetData>"
        )
    return _rewritten(xlsx, _SHEET, change)


def wide_row(header: Sequence[object], column: str = "ZZ") -> bytes:
    """A workbook with `header` and a second row holding one cell in `column`."""
    xlsx = _workbook([header])
    cell = f'<row r="2"><c r="{column}2" t="inlineStr"><is><t>x</t></is></c></row>'.encode()
    return _rewritten(xlsx, _SHEET, {b"</sheetData>": cell + b"</sheetData>"})


def shared_strings_bomb(header: Sequence[object], unpacked_mib: int = 300) -> bytes:
    """A workbook with `header` and a shared-strings part of `unpacked_mib` MiB, streamed into
    the archive (never whole in memory here)."""
    xlsx = _workbook([header])
    source = zipfile.ZipFile(io.BytesIO(xlsx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "[Content_Types].xml":
                content = content.replace(b"</Types>", _SHARED_STRINGS_TYPE + b"</Types>", 1)
            target.writestr(info, content)
        with target.open("xl/sharedStrings.xml", "w", force_zip64=True) as part:
            part.write(b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">')
            chunk = b"<si><t>" + b"A" * 100 + b"</t></si>"
            for _ in range(unpacked_mib * 1024 * 1024 // len(chunk)):
                part.write(chunk)
            part.write(b"</sst>")
    return out.getvalue()


def broken_sheet(header: Sequence[object]) -> bytes:
    """A workbook with `header` whose sheet XML breaks off inside its second row (a damaged
    download or a crafted file): the parser fails midway, after the workbook opened."""
    xlsx = _workbook([header])
    source = zipfile.ZipFile(io.BytesIO(xlsx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == _SHEET:
                content = content.split(b"</sheetData>", 1)[0] + b'<row r="2"><c r="A2" t="inl'
            target.writestr(info, content)
    return out.getvalue()
