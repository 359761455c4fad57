"""Spreadsheets and CSV files → invitation rows and row errors. No database writes.

The file is read by ``sheet_reader`` in a child process with memory, CPU and time
limits; this module maps its columns (whatever their case, order or surrounding
spaces), parses the yes/no cells and reports problems with the row number as the
spreadsheet shows it (the header is row 1), the column and the value.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portico.invitations.services.planning import InviteRow

COLUMNS = ("email", "first_name", "last_name", "language", "groups", "admin")
OPTIONAL_COLUMNS = ("send_invite_email", "message", "token")
# The column the error sheet adds: that sheet, corrected, is uploaded again as it is, and
# its old notes are no data (nor worth a warning).
ERROR_COLUMN = "errors"
# Besides English: the words of the platform's languages, and what Dutch and French Excel
# write for TRUE and FALSE in a CSV file (WAAR/ONWAAR, VRAI/FAUX).
_TRUE = {"true", "1", "yes", "y", "ja", "oui", "x", "waar", "vrai"}
_FALSE = {"false", "0", "no", "n", "nee", "non", "onwaar", "faux"}
NAME_MAX = 150
MESSAGE_MAX = 2000


@dataclass
class SheetResult:
    rows: list[InviteRow] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    last_row: int = 0
    columns: list[str] = field(default_factory=list)


def unparseable(reason: str) -> dict[str, Any]:
    return {
        "code": "unparseable_file",
        "message": _("This file cannot be read: %(reason)s.") % {"reason": reason},
    }


# The reader's reasons (``sheet_reader.REASONS``, which imports no Django) in the admin's
# language: the same codes, the same parameters.
REASONS = {
    "too_much_text": gettext_lazy("the file holds more text than an import may (%(mb)s MB)"),
    "zip_bomb": gettext_lazy("the file unpacks to far more than it weighs (zip bomb)"),
    "password": gettext_lazy("the workbook is protected with a password"),
    "unpacks_too_large": gettext_lazy("the file unpacks to more than 256 MB"),
    "no_worksheet": gettext_lazy("the archive holds no worksheet"),
    "damaged_archive": gettext_lazy("the file is damaged (not a valid .xlsx archive)"),
    "too_wide": gettext_lazy("the sheet is wider than a spreadsheet can be"),
    "workbook_unreadable": gettext_lazy("the workbook cannot be read (%(error)s)"),
    "not_text": gettext_lazy("the file is neither a spreadsheet nor a text (CSV) file"),
    "mixed_encodings": gettext_lazy(
        "row %(row)s is not written in UTF-8 like the rest of the file (two text encodings "
        "mixed); save it again as CSV UTF-8"
    ),
    "unknown_encoding": gettext_lazy("the text is in an unknown encoding; save it as CSV UTF-8"),
    "malformed_csv": gettext_lazy("the CSV text is malformed near row %(row)s"),
}


def reader_reason(raw: dict[str, Any]) -> str:
    """Why the reader could not read the file, in the active language."""
    wording = REASONS.get(raw.get("reason_code", ""))
    if wording is None:
        return raw.get("reason", "")
    return str(wording) % raw.get("reason_params", {})


def read_raw(path: Path, *, max_rows: int) -> dict[str, Any]:
    """Run the guarded reader; any crash, limit or timeout becomes ``ok: False``."""
    command = [
        sys.executable,
        "-m",
        "portico.invitations.sheet_reader",
        str(path),
        str(max_rows),
        str(settings.PORTICO_IMPORT_MEMORY_MB),
        str(settings.PORTICO_IMPORT_CPU_SECONDS),
    ]
    try:
        completed = subprocess.run(  # noqa: S603 (our own module, a path we created)
            command,
            capture_output=True,
            timeout=settings.PORTICO_IMPORT_TIMEOUT_SECONDS,
            check=False,
            cwd=Path(settings.BASE_DIR),
        )
    except subprocess.TimeoutExpired:
        return {"ok": False, "reason": _("reading it took too long")}
    if completed.returncode != 0:
        return {"ok": False, "reason": _("it made the reader fail (damaged or hostile file)")}
    try:
        return json.loads(completed.stdout)
    except ValueError:
        return {"ok": False, "reason": _("it made the reader fail (damaged or hostile file)")}


def _header_key(cell: str) -> str:
    return "_".join(cell.strip().lower().replace("-", " ").split())


def parse_bool(value: str) -> bool | None:
    """TRUE/FALSE, 1/0, yes/no in any case; None for an empty cell. Raises ValueError."""
    text = value.strip().lower()
    if not text:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(value)


def _unneutralise(value: str) -> str:
    # Our exports prefix cells starting with = + - @ with an apostrophe; take it off.
    if value[:1] == "'" and value[1:2] in ("=", "+", "-", "@"):
        return value[1:].strip()
    return value.strip()


def read_invitation_sheet(path: Path, *, codes: bool = False) -> SheetResult:
    """Read a file into invitation rows. ``codes``: rows without an address are
    registration codes (the "Generate codes" tab)."""
    max_rows = settings.PORTICO_MAX_INVITES
    raw = read_raw(path, max_rows=max_rows)
    result = SheetResult()
    if raw.get("too_many_rows"):
        count = raw["too_many_rows"]
        result.errors.append(
            {
                "code": "max_invites_limit_exceeded",
                "message": _("A batch holds at most %(limit)s invitations; this one has %(count)s.")
                % {"limit": max_rows, "count": count},
                "limit": max_rows,
                "count": count,
            }
        )
        return result
    if not raw.get("ok"):
        result.errors.append(unparseable(reader_reason(raw)))
        return result
    rows = raw["rows"]
    result.last_row = raw.get("last_row", 0)
    if not rows:
        result.errors.append(
            {
                "code": "no_invites_specified",
                "message": _("The file is empty: there is nobody to invite."),
            }
        )
        return result
    header_number, header = rows[0]
    columns: dict[str, int] = {}
    notes_at = None  # the error sheet's column, when the corrected sheet comes back
    for index, cell in enumerate(header):
        key = _header_key(cell)
        if not key:
            continue
        if key in COLUMNS or key in OPTIONAL_COLUMNS:
            if key in columns:
                result.warnings.append(
                    {
                        "code": "duplicate_column",
                        "column": key,
                        "row": header_number,
                        "message": _("The column %(column)s appears twice; the first one is used.")
                        % {"column": key},
                    }
                )
                continue
            columns[key] = index
        elif key == ERROR_COLUMN:
            notes_at = index if notes_at is None else notes_at
        else:
            result.warnings.append(
                {
                    "code": "unknown_column",
                    "column": cell.strip(),
                    "row": header_number,
                    "message": _("The column %(column)s is not known and is ignored.")
                    % {"column": cell.strip()},
                }
            )
    result.columns = list(columns)
    if "email" not in columns and not codes:
        result.errors.append(
            {
                **unparseable(_("its first row has no 'email' column")),
                "row": header_number,
                "column": "email",
            }
        )
        return result

    # Every row padded to one width, then read by position: one pass, no lookups.
    names = [*COLUMNS, *OPTIONAL_COLUMNS]
    width = max(columns.values(), default=0) + 1  # the known columns; index width is blank
    pick = itemgetter(*(columns.get(name, width) for name in names))
    blank = [""] * (width + 1)
    for number, cells in rows[1:]:
        if notes_at is not None and not any(cells[:notes_at]) and not any(cells[notes_at + 1 :]):
            continue  # an old note alone: the admin emptied the row, or problems of the file
        padded = cells[:width] + blank[: width + 1 - min(len(cells), width)]
        values = pick(padded)
        if "'" in "".join(values):  # rarely: a cell our export neutralised
            values = tuple(map(_unneutralise, values))
        email, first, last, language, groups, admin, send, message, token = values
        row = InviteRow(
            number,
            email or None,
            first,
            last,
            language or None,
            [g.strip() for g in groups.split(",") if g.strip()] or None if groups else None,
            _BOOLS[admin] if admin in _BOOLS else _bool_cell(result, number, "admin", admin),
            _BOOLS[send]
            if send in _BOOLS
            else _bool_cell(result, number, "send_invite_email", send),
            message or None,
            email,
            token or None,
        )
        if len(first) > NAME_MAX or len(last) > NAME_MAX or len(message) > MESSAGE_MAX:
            _too_long(result, number, {"first_name": first, "last_name": last, "message": message})
        result.rows.append(row)
    return result


# The usual spellings of yes, no and empty, for a dictionary lookup per cell.
_BOOLS = {
    **{spelling: True for word in _TRUE for spelling in (word, word.upper(), word.title())},
    **{spelling: False for word in _FALSE for spelling in (word, word.upper(), word.title())},
    "": None,
}


def _bool_cell(result: SheetResult, number: int, column: str, value: str) -> bool | None:
    """Any other spelling of a yes/no cell; reports ``malformed_<column>_value``."""
    try:
        return parse_bool(value)
    except ValueError:
        result.errors.append(
            {
                "code": f"malformed_{column}_value",
                "row": number,
                "column": column,
                "value": value[:200],
                "message": _("%(value)s is not a yes/no value (use TRUE or FALSE).")
                % {"value": value[:200]},
            }
        )
        return None


def _too_long(result: SheetResult, number: int, values: dict[str, str]) -> None:
    """Reports ``value_too_long`` for each value past its column's limit."""
    limits = {"first_name": NAME_MAX, "last_name": NAME_MAX, "message": MESSAGE_MAX}
    for column, value in values.items():
        if len(value) > limits[column]:
            result.errors.append(
                {
                    "code": "value_too_long",
                    "row": number,
                    "column": column,
                    "value": value[:50] + "…",
                    "message": _("%(column)s holds at most %(limit)s characters.")
                    % {"column": column, "limit": limits[column]},
                }
            )
