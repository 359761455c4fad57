"""Real spreadsheet and CSV files for the import tests, and the admin's upload and
confirm through the API (the check and the storing run inline after commit).

Rows are lists of cells, the first one being the spreadsheet's row 1; ``None`` is a
blank row (nothing written in .xlsx, an empty line in CSV), which keeps the numbering
of the rows after it.
"""

from __future__ import annotations

import csv
import io
import random
import string
import struct
import zipfile
from dataclasses import dataclass
from typing import Any

import xlsxwriter
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, TestCase
from python_calamine import CalamineWorkbook

HEADER = ["email", "first_name", "last_name", "language", "groups", "admin"]
API = "/api/v1/invitations"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class Formula:
    """A formula cell; ``value`` is the result cached in the file (what Excel shows)."""

    text: str
    value: Any = None


Rows = list[list[Any] | None]


def xlsx_bytes(rows: Rows, *, start_row: int = 0) -> bytes:
    """An .xlsx workbook (xlsxwriter) with ``rows`` on its first sheet, from spreadsheet
    row ``start_row + 1``. Strings stay strings (``=1+1`` is text), bools are booleans,
    numbers numbers, :class:`Formula` a formula."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(
        buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    )
    sheet = workbook.add_worksheet("Invitations")
    for index, row in enumerate(rows):
        for column, value in enumerate(row or []):
            line = start_row + index
            if value is None or value == "":
                continue
            if isinstance(value, Formula):
                sheet.write_formula(line, column, value.text, None, value.value)
            elif isinstance(value, bool):
                sheet.write_boolean(line, column, value)
            elif isinstance(value, int | float):
                sheet.write_number(line, column, value)
            else:
                sheet.write_string(line, column, str(value))
    workbook.close()
    return buffer.getvalue()


def csv_bytes(
    rows: Rows, *, delimiter: str = ",", encoding: str = "utf-8", bom: bool = False
) -> bytes:
    """CSV text in ``encoding`` (``bom``: a UTF-8 byte order mark first)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    for row in rows:
        if row is None:
            buffer.write("\r\n")
        else:
            writer.writerow(["" if v is None else str(v) for v in row])
    data = buffer.getvalue().encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


def sheet_file(fmt: str, rows: Rows) -> tuple[str, bytes]:
    """(file name, content) of ``rows`` as an .xlsx or .csv file."""
    if fmt == "xlsx":
        return "invitations.xlsx", xlsx_bytes(rows)
    return "invitations.csv", csv_bytes(rows)


def read_xlsx(content: bytes, sheet: int = 0) -> list[list[Any]]:
    """Every row of a sheet (as python-calamine reads it, blank area skipped)."""
    workbook = CalamineWorkbook.from_filelike(io.BytesIO(content))
    return workbook.get_sheet_by_index(sheet).to_python()


def read_csv(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


# --- The admin's upload and confirm through the API -------------------------------------


def upload(client: Client, filename: str, content: bytes, **options: Any):
    """POST the file to the imports endpoint (the check runs after commit). Returns the
    response of the upload itself."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(
            f"{API}/imports", {"file": SimpleUploadedFile(filename, content), **options}
        )


def get_import(client: Client, import_id: int, **params: Any) -> dict[str, Any]:
    response = client.get(f"{API}/imports/{import_id}", params)
    assert response.status_code == 200, response.content
    return response.json()


def checked(client: Client, filename: str, content: bytes, **options: Any) -> dict[str, Any]:
    """Upload a file and return the import as the admin sees it once checked."""
    response = upload(client, filename, content, **options)
    assert response.status_code == 202, response.content
    return get_import(client, response.json()["id"], preview_limit=1000)


def confirm(client: Client, import_id: int):
    """POST confirm (the storing and the sending run after commit); returns the response."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(f"{API}/imports/{import_id}/confirm")


def where(errors: list[dict[str, Any]]) -> list[tuple]:
    """The errors as (code, row or rows, column, value), in the order reported."""
    return [
        (e["code"], e.get("row", e.get("rows")), e.get("column"), e.get("value")) for e in errors
    ]


# --- Hostile files -----------------------------------------------------------------------


def random_bytes(size: int = 4096, seed: int = 1) -> bytes:
    data = random.Random(seed).randbytes(size)
    return b"\x00" + data[1:]  # binary beyond doubt, whatever the seed


def zip_bomb(unpacked_mb: int = 64) -> bytes:
    """A well-formed workbook whose sheet unpacks to ``unpacked_mb`` MB (of blanks
    inside the sheet's XML) from a few hundred KB."""
    good = xlsx_bytes([HEADER, ["ann@x.example"]])
    source = zipfile.ZipFile(io.BytesIO(good))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bomb:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"<sheetData>", b"<sheetData>" + b" " * (unpacked_mb << 20))
            bomb.writestr(info.filename, data)
    return out.getvalue()


def far_corner(*rows: list[Any]) -> bytes:
    """A workbook with ``rows`` at the top and one cell at XFD1048576, the last cell a
    spreadsheet can have (a reader that allocates the whole grid asks for terabytes)."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = workbook.add_worksheet()
    for line, row in enumerate(rows):
        sheet.write_row(line, 0, row)
    sheet.write_string(1_048_575, 16_383, "corner")
    workbook.close()
    return buffer.getvalue()


def with_huge_cell(rows: Rows, placeholder: str, size: int = 10 * 1024 * 1024) -> bytes:
    """An .xlsx file where the cell holding ``placeholder`` holds ``size`` random
    letters instead (beyond what xlsxwriter or Excel would write; random, so that the
    file really weighs about as much as it unpacks to)."""
    source = zipfile.ZipFile(io.BytesIO(xlsx_bytes(rows)))
    huge = "".join(random.Random(3).choices(string.ascii_letters, k=size)).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as workbook:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "xl/sharedStrings.xml":
                assert placeholder.encode() in data
                data = data.replace(placeholder.encode(), huge)
            workbook.writestr(info.filename, data)
    return out.getvalue()


def shared_string_flood(rows: int, columns: int = 40, size: int = 2000) -> bytes:
    """An .xlsx workbook whose ``rows`` x ``columns`` cells (below the header) all point
    at one shared string of ``size`` letters: the file stores the text once and weighs
    a few KB, while its cells hold ``rows * columns * size`` characters."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, HEADER)
    text = "x" * size
    for line in range(1, rows + 1):
        for column in range(columns):
            sheet.write_string(line, column, text)
    workbook.close()
    return buffer.getvalue()


def fake_ole(size: int = 4096) -> bytes:
    """The OLE (compound file) magic bytes, then junk: a legacy or encrypted Office
    file as far as its first eight bytes go."""
    return bytes.fromhex("d0cf11e0a1b11ae1") + random.Random(2).randbytes(size)


# A password-protected .xlsx is a compound file (CFB) holding two streams:
# EncryptionInfo (how the key derives from the password) and EncryptedPackage (the
# AES-encrypted workbook). Built here without any library: a minimal CFB v3 writer.
_END, _FREE, _FAT, _NONE = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF
_SECTOR = 512
_AGILE = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
    b'<encryption xmlns="http://schemas.microsoft.com/office/2006/encryption" '
    b'xmlns:p="http://schemas.microsoft.com/office/2006/keyEncryptor/password">'
    b'<keyData saltSize="16" blockSize="16" keyBits="256" hashSize="64" '
    b'cipherAlgorithm="AES" cipherChaining="ChainingModeCBC" hashAlgorithm="SHA512" '
    b'saltValue="c2FsdHNhbHRzYWx0c2FsdA=="/><keyEncryptors><keyEncryptor '
    b'uri="http://schemas.microsoft.com/office/2006/keyEncryptor/password">'
    b'<p:encryptedKey spinCount="100000" saltSize="16" blockSize="16" keyBits="256" '
    b'hashSize="64" cipherAlgorithm="AES" cipherChaining="ChainingModeCBC" '
    b'hashAlgorithm="SHA512" saltValue="c2FsdHNhbHRzYWx0c2FsdA==" '
    b'encryptedVerifierHashInput="AAAAAAAAAAAAAAAAAAAAAA==" '
    b'encryptedVerifierHashValue="AAAAAAAAAAAAAAAAAAAAAA==" '
    b'encryptedKeyValue="AAAAAAAAAAAAAAAAAAAAAA=="/></keyEncryptor></keyEncryptors>'
    b"</encryption>"
)


def _directory_entry(name: str, kind: int, **links: int) -> bytes:
    encoded = (name + "\0").encode("utf-16-le")
    entry = (
        encoded.ljust(64, b"\0")
        + struct.pack(
            "<HBB3I",
            len(encoded),
            kind,
            1,  # black
            links.get("left", _NONE),
            links.get("right", _NONE),
            links.get("child", _NONE),
        )
        + b"\0" * 36  # class id, state bits, creation and modification times
        + struct.pack("<IQ", links.get("start", _END), links.get("size", 0))
    )
    assert len(entry) == 128
    return entry


def compound_file(streams: dict[str, bytes]) -> bytes:
    """A CFB v3 file with these streams in its root storage (each >= 4096 bytes, so
    that no mini stream is needed)."""
    names = list(streams)
    fat, chains, body = [_FAT, _END], [], b""
    for name in names:
        payload = streams[name]
        assert len(payload) >= 4096
        count = -(-len(payload) // _SECTOR)
        first = len(fat)
        chains.append(first)
        fat += [first + i + 1 for i in range(count - 1)] + [_END]
        body += payload.ljust(count * _SECTOR, b"\0")
    assert len(fat) <= _SECTOR // 4
    fat += [_FREE] * (_SECTOR // 4 - len(fat))
    # Siblings in the format's order (shorter names first), chained to the right.
    order = sorted(range(len(names)), key=lambda i: (len(names[i]), names[i].upper()))
    entries = [_directory_entry("Root Entry", 5, child=order[0] + 1)]
    for index, name in enumerate(names):
        position = order.index(index)
        right = order[position + 1] + 1 if position + 1 < len(order) else _NONE
        entries.append(
            _directory_entry(name, 2, right=right, start=chains[index], size=len(streams[name]))
        )
    directory = b"".join(entries).ljust(_SECTOR, b"\0")
    header = (
        bytes.fromhex("d0cf11e0a1b11ae1")
        + b"\0" * 16
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + b"\0" * 6
        # directory sectors (0 in v3), FAT sectors, first directory sector, transaction,
        # mini stream cut-off, first mini FAT sector, mini FAT sectors, DIFAT (none)
        + struct.pack("<9I", 0, 1, 1, 0, 4096, _END, 0, _END, 0)
        + struct.pack("<109I", 0, *([_FREE] * 108))
    )
    assert len(header) == len(directory) == _SECTOR
    return header + struct.pack(f"<{_SECTOR // 4}I", *fat) + directory + body


def encrypted_workbook() -> bytes:
    """A password-protected workbook as Excel saves it (agile encryption): the package
    is random bytes, which is all that AES output is without the password."""
    info = (struct.pack("<HHI", 4, 4, 0x40) + _AGILE).ljust(4096, b" ")
    package = struct.pack("<Q", 6144) + random.Random(7).randbytes(8192)
    return compound_file({"EncryptionInfo": info, "EncryptedPackage": package})
