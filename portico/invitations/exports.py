"""What the export and the error sheet contain."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from portico.invitations import tokens
from portico.invitations.models import Invitation, InvitationImport
from portico.invitations.sheets import ERROR_COLUMN, read_raw

EXPORT_COLUMNS = [
    "token",
    "status",
    "email",
    "first_name",
    "last_name",
    "language",
    "groups",
    "admin",
    "moderated_projects",
    "inviter",
    "sent",
    "expires",
    "accepted",
]


def _date(value, zone=None) -> datetime | None:
    """The local time to the minute, without its zone (spreadsheets have none)."""
    if not value:
        return None
    local = value.astimezone(zone or timezone.get_current_timezone())
    return local.replace(tzinfo=None, second=0, microsecond=0)


_EXPORT_FIELDS = (
    "id",
    "token_nonce",
    "status",
    "expires_at",
    "email",
    "first_name",
    "last_name",
    "language",
    "is_admin",
    "inviter__email",
    "sent_at",
    "accepted_at",
    "send_email",
)
CHUNK = 2000


def _names_by_invitation(through, name_field: str, ids: list[int]) -> dict[int, list[str]]:
    names: dict[int, list[str]] = {}
    for invitation_id, name in (
        through.objects.filter(invitation_id__in=ids)
        .values_list("invitation_id", name_field)
        .order_by(name_field)
    ):
        names.setdefault(invitation_id, []).append(name)
    return names


def export_rows(invitations: QuerySet[Invitation]) -> Iterator[list[Any]]:
    """One row per invitation, oldest first, read in chunks of 2,000 by id (with their
    groups and projects looked up per chunk) as plain values, so that time and memory
    stay small whatever the count."""
    now = timezone.now()
    key = tokens.current_key()
    zone = timezone.get_current_timezone()
    queryset = invitations.order_by("id").values_list(*_EXPORT_FIELDS)
    last = 0
    while True:
        chunk = list(queryset.filter(id__gt=last)[:CHUNK])
        if not chunk:
            return
        ids = [row[0] for row in chunk]
        groups = _names_by_invitation(Invitation.groups.through, "group__name", ids)
        projects = _names_by_invitation(
            Invitation.moderated_projects.through, "project__title", ids
        )
        for (
            pk,
            nonce,
            status,
            expires_at,
            email,
            first,
            last_name,
            language,
            is_admin,
            inviter,
            sent_at,
            accepted_at,
            send_email,
        ) in chunk:
            if status == Invitation.Status.PENDING and expires_at <= now:
                status = Invitation.Status.EXPIRED
            yield [
                tokens.display(tokens.token_for_nonce(nonce, key=key)),
                status,
                email or "",
                first,
                last_name,
                language,
                ", ".join(groups.get(pk, ())),
                "TRUE" if is_admin else "FALSE",
                ", ".join(projects.get(pk, ())),
                inviter or "",
                # Empty for what was never mailed: a code, or send_invite_email FALSE.
                _date(sent_at, zone) if email and send_email else None,
                _date(expires_at, zone),
                _date(accepted_at, zone),
            ]
        last = ids[-1]


# Blank rows the error sheet puts back, at most, so that each row keeps the number the
# uploaded sheet gave it (a file of a million blank lines gets no million-row sheet).
BLANK_ROWS_KEPT = 10_000


def error_sheet_rows(invitation_import: InvitationImport) -> tuple[list[str], list[list[str]]]:
    """The uploaded sheet as it was, with an ``errors`` column naming each row's problems
    (the header row and rows without problems keep an empty cell). Blank rows are put
    back, so that every row has the number the errors name (up to ``BLANK_ROWS_KEPT``);
    problems of the whole file come last. Once the file is deleted
    (``PORTICO_IMPORT_RETENTION``), the problems by row number instead."""
    by_row: dict[int, list[str]] = {}
    for error in invitation_import.errors:
        for number in [error["row"]] if error.get("row") else error.get("rows", []):
            by_row.setdefault(number, []).append(f"{error['code']}: {error['message']}")
    general = [
        f"{e['code']}: {e['message']}"
        for e in invitation_import.errors
        if not e.get("row") and not e.get("rows")
    ]
    if not invitation_import.file:
        listed = [["", "; ".join(general)]] if general else []
        listed += [[str(number), "; ".join(by_row[number])] for number in sorted(by_row)]
        return ["row", "errors"], listed
    if not by_row:
        # Problems of the whole file only (unreadable, too many rows...): nothing to show
        # beside its rows, so it is not read again; a refused million-row file must not
        # be re-read, held and written out inside a web request.
        return ["errors"], [[m] for m in general]
    # Within the row limit: a file past it has problems of the whole file only (above).
    raw = read_raw(Path(invitation_import.file.path), max_rows=settings.PORTICO_MAX_INVITES)
    rows = raw.get("rows", []) if raw.get("ok") else []
    if not rows:
        return ["errors"], [[m] for m in general]
    width = max(len(cells) for _n, cells in rows)
    blank, blanks_left = [""] * (width + 1), BLANK_ROWS_KEPT
    header_number, lines = rows[0][0], []
    for number, cells in rows:
        gap = min(number - 1 - len(lines), blanks_left)
        if gap > 0:  # the blank rows above this one
            lines.extend([blank] * gap)
            blanks_left -= gap
        note = ERROR_COLUMN if number == header_number else "; ".join(by_row.get(number, []))
        lines.append([*cells, *[""] * (width - len(cells)), note])
    if general:
        lines.append([""] * width + ["; ".join(general)])
    return lines[0], lines[1:]


# The CSV's separators: a comma, or a semicolon where Excel expects one (where the
# decimal separator is a comma, as in Belgium).
CSV_DELIMITERS = {"comma": ",", "semicolon": ";"}


def export_response(
    *,
    actor,
    file_format: str,
    search: str = "",
    status: str = "",
    batch_id: int | None = None,
    delimiter: str = "comma",
):
    """The export as a streamed download (CSV) or a file built in constant memory
    (xlsx), after recording it in the audit log. ``batch_id``: only the invitations that
    batch created (the codes of a "Generate codes" import, to print or mail-merge).
    ``delimiter``: the CSV's separator, a key of ``CSV_DELIMITERS``."""
    from django.http import FileResponse, StreamingHttpResponse

    from portico.core.errors import ApplicationError
    from portico.invitations.selectors import invitation_list_for_admin
    from portico.invitations.services.exports import invitation_export_record
    from portico.invitations.workbooks import csv_stream, xlsx_file

    if file_format not in ("xlsx", "csv"):
        raise ApplicationError(
            "invalid", _("format is xlsx or csv."), status=422, field="format", value=file_format
        )
    if delimiter not in CSV_DELIMITERS:
        raise ApplicationError(
            "invalid",
            _("delimiter is comma or semicolon."),
            status=422,
            field="delimiter",
            value=delimiter,
        )
    invitations = invitation_list_for_admin(
        search=search, status=status, sort="date", batch_id=batch_id
    )
    invitation_export_record(
        actor=actor,
        invitations=invitations,
        file_format=file_format,
        search=search,
        status=status,
        batch_id=batch_id,
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    if file_format == "csv":
        response = StreamingHttpResponse(
            csv_stream(
                EXPORT_COLUMNS, export_rows(invitations), delimiter=CSV_DELIMITERS[delimiter]
            ),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="invitations-{stamp}.csv"'
        return response
    return FileResponse(
        xlsx_file(EXPORT_COLUMNS, export_rows(invitations), sheet="invitations"),
        as_attachment=True,
        filename=f"invitations-{stamp}.xlsx",
    )


def template_response(*, codes: bool):
    """The import template as a download."""
    from django.http import HttpResponse

    from portico.invitations.workbooks import template_xlsx

    response = HttpResponse(
        template_xlsx(codes=codes),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    name = "portico-codes-template.xlsx" if codes else "portico-invitations-template.xlsx"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
