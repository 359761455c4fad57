"""Reads an uploaded spreadsheet or CSV file in a child process, with limits.

Run as ``python -m portico.invitations.sheet_reader PATH MAX_ROWS MEMORY_MB CPU_SECONDS``.
It prints one JSON object,
``{"ok": true, "rows": [[row_number, [cell, ...]], ...], "last_row": n}``, with the
non-empty rows only (numbers as the spreadsheet shows them, so blank rows are
skipped but counted), ``{"ok": false, "too_many_rows": n}`` when the file holds more
than MAX_ROWS rows (``n`` of them, besides the header), or
``{"ok": false, "reason": "...", "reason_code": "...", "reason_params": {...}}`` (a
damaged, protected or hostile file, or one whose kept cells would make more than
MAX_TEXT bytes of JSON; see REASONS).

Why a child process: python-calamine aborts the whole process (not an exception) on
some crafted sheets, and a zip bomb or a sheet with one cell at the far corner can ask
for gigabytes. The parent (``sheets.py``) runs this with memory, CPU-time and wall-clock
limits, so a hostile file costs a few seconds and nothing else. This module imports no
Django, to start fast.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
import zipfile

MAX_COLUMNS = 40
MAX_CELL = 2000  # characters kept per cell; longer values are cut (and then rejected)
# Bytes of JSON this process may hand its parent, which loads them at once. MAX_CELL
# alone does not bound that: a few MB of .xlsx can point 4 million cells at one
# 2,000-character shared string (gigabytes of JSON). The rows' UTF-8 bytes are counted
# as they are kept (to stop early), and the JSON itself is measured before it is
# written (escapes make it longer). Far above any real invitation file: 100,000 rows of
# typical cells are about 10 MB.
MAX_TEXT = 64 * 1024 * 1024
MAX_UNZIPPED = 256 * 1024 * 1024
MAX_RATIO = 200

_FILLED = re.compile(r"[^\s,;]")  # a character that is neither blank nor a separator
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")  # its directory entry


# Why a file cannot be read, by code. The parent (sheets.py) words each in the admin's
# language from the code and its parameters; this English text is for logs and tests.
REASONS = {
    "too_much_text": "the file holds more text than an import may ({mb} MB)",
    "zip_bomb": "the file unpacks to far more than it weighs (zip bomb)",
    "password": "the workbook is protected with a password",
    "unpacks_too_large": "the file unpacks to more than 256 MB",
    "no_worksheet": "the archive holds no worksheet",
    "damaged_archive": "the file is damaged (not a valid .xlsx archive)",
    "too_wide": "the sheet is wider than a spreadsheet can be",
    "workbook_unreadable": "the workbook cannot be read ({error})",
    "not_text": "the file is neither a spreadsheet nor a text (CSV) file",
    "mixed_encodings": (
        "row {row} is not written in UTF-8 like the rest of the file (two text encodings "
        "mixed); save it again as CSV UTF-8"
    ),
    "unknown_encoding": "the text is in an unknown encoding; save it as CSV UTF-8",
    "malformed_csv": "the CSV text is malformed near row {row}",
}


class Unreadable(Exception):
    """A file that cannot be read, and why: a code of REASONS with its parameters."""

    def __init__(self, code: str, **params: object):
        super().__init__(REASONS[code].format(**params))
        self.code = code
        self.params = params

    def result(self) -> dict:
        """What the parent receives."""
        return {"ok": False, "reason": str(self), "reason_code": self.code, **self._params()}

    def _params(self) -> dict:
        return {"reason_params": self.params} if self.params else {}


def _too_much_text() -> Unreadable:
    return Unreadable("too_much_text", mb=MAX_TEXT >> 20)


class TooManyRows(Exception):
    """More rows than an import may hold: not a broken file, a too long one."""

    def __init__(self, count: int):
        super().__init__(count)
        self.count = count


def _cell(value: object) -> str:
    """A cell as text, without surrounding spaces; numbers as the sheet shows them."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    text = str(value).strip()
    return text if len(text) <= MAX_CELL else text[:MAX_CELL] + "…"


def _cells(values: list) -> list[str]:
    """A row's cells as text (most cells are short text: that case goes first)."""
    return [
        v.strip() if v.__class__ is str and len(v) <= MAX_CELL else _cell(v)
        for v in values[:MAX_COLUMNS]
    ]


class _KeptRows:
    """The rows of a sheet as they are read: the non-empty ones kept with their row
    number (the header and at most ``max_rows`` more), their text counted against
    MAX_TEXT as they come (to stop early); rows past the limit are only counted."""

    def __init__(self, max_rows: int):
        self._rows: list[list] = []
        self._limit = max_rows + 1
        self._found = 0
        self._bytes = 0
        self.last = 0  # the number of the last row kept

    def add(self, number: int, values: list) -> None:
        cells = _cells(values)
        if not any(cells):
            return
        self._found += 1
        if self._found <= self._limit:
            self._bytes += len("".join(cells).encode())
            if self._bytes > MAX_TEXT:
                raise _too_much_text()
            self._rows.append([number, cells])
            self.last = number

    def rows(self) -> list[list]:
        """The rows kept; raises TooManyRows (with the count, header excluded) past
        the limit."""
        if self._found > self._limit:
            raise TooManyRows(self._found - 1)
        return self._rows


def _check_zip(path: str) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            total = 0
            for info in archive.infolist():
                total += info.file_size
                if info.file_size > 1024 * 1024 and info.file_size > MAX_RATIO * max(
                    info.compress_size, 1
                ):
                    raise Unreadable("zip_bomb")
                if info.flag_bits & 0x1:
                    raise Unreadable("password")
            if total > MAX_UNZIPPED:
                raise Unreadable("unpacks_too_large")
            if not any(name.startswith("xl/worksheets/") for name in archive.namelist()):
                raise Unreadable("no_worksheet")
    except zipfile.BadZipFile as error:
        raise Unreadable("damaged_archive") from error


def read_workbook(path: str, max_rows: int) -> tuple[list, int]:
    from python_calamine import CalamineError, CalamineWorkbook, PasswordError

    try:
        workbook = CalamineWorkbook.from_path(path)
        sheet = workbook.get_sheet_by_index(0)
        if sheet.width > 16_384:
            raise Unreadable("too_wide")
        kept = _KeptRows(max_rows)
        # iter_rows() starts at the sheet's first row (row 1), padding the empty rows
        # above the data, so its index is already the spreadsheet's row number - 1.
        for index, values in enumerate(sheet.iter_rows()):
            kept.add(index + 1, values)
        return kept.rows(), kept.last
    except PasswordError as error:
        raise Unreadable("password") from error
    except (CalamineError, KeyError, ValueError, zipfile.BadZipFile) as error:
        raise Unreadable("workbook_unreadable", error=error.__class__.__name__) from error


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if b"\x00" in data:
        raise Unreadable("not_text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        _refuse_mixed_encodings(data)
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        raise Unreadable("unknown_encoding") from None


def _refuse_mixed_encodings(data: bytes) -> None:
    """Raises ``mixed_encodings`` when some lines with accents are UTF-8 and others are
    not: rows pasted together from a UTF-8 file and a Windows (cp1252) one. Read as
    cp1252, every correct accent would be garbled ("Zoë" as "ZoÃ«") without a word.
    Decided line by line, because one cp1252 line can hold a byte pair that is valid
    UTF-8 ("É" before a no-break space); a whole line rarely is, unless it was written
    so. Names the first line that is not UTF-8."""
    written_in_utf8, first_other = False, None
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            first_other = first_other or number
        else:
            written_in_utf8 = True
        if written_in_utf8 and first_other:
            raise Unreadable("mixed_encodings", row=first_other)


def _first_filled_line(text: str) -> str:
    """The first line with something besides spaces and separators: blank lines above
    the header say nothing about the delimiter. Found with one search (not a loop over
    lines), so that a file of millions of empty lines costs no more than reading it."""
    found = _FILLED.search(text)
    if found is None:
        return ""
    start = text.rfind("\n", 0, found.start()) + 1
    end = text.find("\n", found.start())
    return text[start : len(text) if end < 0 else end]


def read_csv(path: str, max_rows: int) -> tuple[list, int]:
    with open(path, "rb") as handle:
        text = _decode(handle.read())
    first_line = _first_filled_line(text)
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    csv.field_size_limit(64 * 1024 * 1024)
    kept, number = _KeptRows(max_rows), 0
    try:
        for number, values in enumerate(
            csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), start=1
        ):
            kept.add(number, values)
    except csv.Error as error:
        raise Unreadable("malformed_csv", row=number + 1) from error
    return kept.rows(), number


def read(path: str, max_rows: int) -> dict:
    with open(path, "rb") as handle:
        magic = handle.read(8)
    try:
        if magic.startswith(ZIP_MAGIC):
            _check_zip(path)
            rows, last = read_workbook(path, max_rows)
        elif magic.startswith(OLE_MAGIC):
            # Legacy .xls, or an encrypted (password-protected) .xlsx: a compound file
            # holding an "EncryptedPackage" stream. Said plainly, because calamine
            # cannot tell it from damage under the stored name (no .xlsx suffix).
            with open(path, "rb") as handle:
                if ENCRYPTED_PACKAGE in handle.read():
                    raise Unreadable("password")
            rows, last = read_workbook(path, max_rows)
        else:
            rows, last = read_csv(path, max_rows)
    except Unreadable as error:
        return error.result()
    except TooManyRows as error:
        return {"ok": False, "too_many_rows": error.count}
    return {"ok": True, "rows": rows, "last_row": last}


def limit_resources(memory_mb: int, cpu_seconds: int) -> None:
    """Cap this process: a hostile file may at worst exhaust these, not the machine."""
    import resource

    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))


def output(result: dict) -> bytes:
    """The JSON the parent reads: ``result``, or the refusal of a file whose JSON would
    be larger than MAX_TEXT bytes."""
    payload = json.dumps(result, ensure_ascii=False).encode()
    if len(payload) > MAX_TEXT:
        payload = json.dumps(_too_much_text().result()).encode()
    return payload


if __name__ == "__main__":
    limit_resources(int(sys.argv[3]), int(sys.argv[4]))
    sys.stdout.buffer.write(output(read(sys.argv[1], int(sys.argv[2]))))
