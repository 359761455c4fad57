"""Spreadsheets Portico writes: the import template, exports and the error sheet.

Written with xlsxwriter in ``constant_memory`` mode (rows are flushed as they are
written) to a temporary file that is then streamed, so 100,000 rows cost bounded memory.
Cells starting with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return) get a
leading apostrophe, so that no spreadsheet program runs them as formulas.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import IO, Any

import xlsxwriter
from django.conf import settings
from django.utils.translation import gettext as _

from portico.core.languages import platform_languages
from portico.groups.models import Group
from portico.invitations.sheets import COLUMNS

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def template_xlsx(*, codes: bool = False) -> bytes:
    """The import template: the six columns on the first sheet, ready to fill (no example
    row, so an untouched template invites nobody), and a help sheet that explains each
    column and lists the platform's languages and groups."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    bold = workbook.add_format({"bold": True, "bg_color": "#E8F0FE", "border": 1})
    wrap = workbook.add_format({"text_wrap": True, "valign": "top"})
    sheet = workbook.add_worksheet(_("Invitations"))
    for index, name in enumerate(COLUMNS):
        sheet.write_string(0, index, name, bold)
        sheet.set_column(index, index, 32 if name in ("email", "groups") else 16)
    sheet.freeze_panes(1, 0)
    languages = platform_languages()
    # Lists that suggest, not forbid: the import also takes "nl-be", "yes", "0"...,
    # which Excel's default ("stop") style would refuse to let anyone type.
    for column, values in ((3, languages), (5, ["TRUE", "FALSE"])):
        sheet.data_validation(
            1,
            column,
            100_000,
            column,
            {"validate": "list", "source": values, "ignore_blank": True, "error_type": "warning"},
        )

    help_sheet = workbook.add_worksheet(_("Help"))
    help_sheet.set_column(0, 0, 20)
    help_sheet.set_column(1, 1, 70)
    help_sheet.set_column(2, 2, 36)
    rows = [
        (
            (
                "email",
                _(
                    "Leave it empty: a registration code needs no address. One code per "
                    "row, to print on a letter; no email is sent."
                ),
                "",
            )
            if codes
            else (
                "email",
                _("Required. One address per row; every address only once."),
                "ann.smith@example.org",
            )
        ),
        ("first_name", _("Optional. First name, shown in the email and the form."), "Ann"),
        ("last_name", _("Optional. Last name."), "Smith"),
        (
            "language",
            _(
                "Optional. Language of the invitation; one of the codes below. Empty: "
                "the language chosen on the page."
            ),
            languages[0],
        ),
        (
            "groups",
            _(
                "Optional. One or more group names, separated by commas. Empty: the "
                "groups chosen on the page."
            ),
            "North Avenue Residents",
        ),
        (
            "admin",
            _(
                "Optional. TRUE gives platform admin rights, FALSE does not (1/0 and "
                "yes/no work too). Empty: the choice made on the page."
            ),
            "FALSE",
        ),
        (
            "send_invite_email",
            _("Optional extra column. FALSE creates the invitation without sending an email."),
            "TRUE",
        ),
        ("message", _("Optional extra column. A personal message for this person."), ""),
    ]
    help_sheet.write_row(0, 0, [_("Column"), _("What to write"), _("Example")], bold)
    for number, (name, text, example) in enumerate(rows, start=1):
        help_sheet.write_string(number, 0, name)
        help_sheet.write_string(number, 1, text, wrap)
        help_sheet.write_string(number, 2, example)
    line = len(rows) + 2
    help_sheet.write_string(line, 0, _("Languages"), bold)
    for offset, code in enumerate(languages, start=1):
        help_sheet.write_string(line + offset, 0, code)
        help_sheet.write_string(line + offset, 1, dict(settings.LANGUAGES).get(code.lower(), ""))
    line += len(languages) + 2
    help_sheet.write_string(line, 0, _("Groups"), bold)
    for offset, group in enumerate(Group.objects.order_by("name"), start=1):
        help_sheet.write_string(line + offset, 0, group.name)
        help_sheet.write_string(line + offset, 1, group.get_kind_display())
    workbook.close()
    return buffer.getvalue()


# Column widths (characters) of the sheets Portico writes, by column name; 14 otherwise.
# Set before the rows (a constant-memory sheet cannot be measured afterwards).
_WIDTHS = {
    "token": 17,
    "email": 32,
    "groups": 30,
    "moderated_projects": 30,
    "inviter": 28,
    "message": 40,
    "errors": 60,
    "sent": 17,
    "expires": 17,
    "accepted": 17,
}
DATETIME_FORMAT = "%Y-%m-%d %H:%M"  # CSV; the .xlsx cells are dates shown the same way


def xlsx_file(header: list[str], rows: Iterable[Iterable[Any]], *, sheet: str) -> IO[bytes]:
    """Write rows to an .xlsx temporary file (constant memory) and return it rewound.
    The header is frozen and filterable; ``datetime`` values (naive, local) become date
    cells that sort and filter as dates; everything else is written as text."""
    handle = tempfile.NamedTemporaryFile(suffix=".xlsx")  # noqa: SIM115 (returned open)
    workbook = xlsxwriter.Workbook(
        handle.name,
        {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False},
    )
    worksheet = workbook.add_worksheet(sheet)
    bold = workbook.add_format({"bold": True})
    when = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    for column, name in enumerate(header):
        worksheet.set_column(column, column, _WIDTHS.get(name, 14))
    worksheet.freeze_panes(1, 0)
    worksheet.write_row(0, 0, header, bold)
    last = 0
    for last, row in enumerate(rows, start=1):
        for column, value in enumerate(row):
            if isinstance(value, datetime):
                worksheet.write_datetime(last, column, value, when)
            else:
                worksheet.write_string(last, column, neutralise(value))
    worksheet.autofilter(0, 0, last, max(len(header) - 1, 0))
    workbook.close()
    handle.seek(0)
    return handle


def csv_stream(
    header: list[str], rows: Iterable[Iterable[Any]], *, delimiter: str = ","
) -> Iterator[str]:
    """CSV text, one line at a time (UTF-8 with a BOM so that Excel reads accents);
    ``datetime`` values as ``DATETIME_FORMAT``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    buffer.write("\ufeff")
    writer.writerow(header)
    yield buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(
            [v.strftime(DATETIME_FORMAT) if isinstance(v, datetime) else neutralise(v) for v in row]
        )
        yield buffer.getvalue()
