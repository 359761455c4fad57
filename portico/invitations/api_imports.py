"""``/api/v1/invitations``: spreadsheets (template, imports with their preview and
errors) and the export. Admins only (the API's default). Mounted on the same prefix as
:mod:`portico.invitations.api`, in a module of its own to keep that one small.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, File, Form, Router, Schema, Status, UploadedFile

from portico.core.api import require_admin
from portico.core.errors import NotFound
from portico.invitations.api import BatchOptionsIn

router = Router(tags=["invitations"])


class ImportOptionsIn(BatchOptionsIn):
    kind: Literal["file", "codes"] = Field(
        "file", description="`file` (invitations) or `codes` (no email)."
    )


class ImportProgress(Schema):
    status: str = Field(
        description="`checking`, `invalid`, `ready` (the preview), `storing`, `done` or `failed`."
    )
    rows_total: int = Field(description="Rows of the file (besides the header).")
    rows_checked: int
    to_store: int = Field(description="Invitations to store or update, known once confirmed.")
    stored: int
    emails_queued: int = Field(description="Invitation emails queued so far.")
    emails_sent: int
    emails_not_sent: int = Field(
        description="Queued emails that will not go out: refused by the mail server after "
        "every attempt, replaced by a newer email (a resend, a fixed address), or "
        "cancelled by an admin (stop-sending)."
    )
    mail_done: bool = Field(
        description="The import is over (done, failed, or refused for its errors) and none "
        "of its emails is still waiting: nothing in this progress will move again."
    )


class ImportSummary(Schema):
    """What confirming will do, row by row counted. Null until the check has passed."""

    invited: int = Field(description="New invitations, each sent by email unless told not to.")
    codes: int = Field(description="Registration codes: invitations without email.")
    updated: int = Field(
        description="Registered users given the groups and rights at once (no email)."
    )
    merged: int = Field(description="Pending invitations that gain the groups and rights.")
    renewed: int = Field(description="Expired invitations renewed and sent again.")
    existing: int = Field(description="Rows carrying a known token (a re-imported export).")
    admins: int = Field(description="Rows that give admin rights.")
    emails: int = Field(description="Invitation emails confirming will queue.")
    replaced: int = Field(
        0,
        description="Accounts whose sign-up was never confirmed, deleted to make way for "
        "the invitation to their address.",
    )


class ImportProblem(Schema):
    """An error or a warning: a stable ``code``, a message in the admin's language, and
    where: ``row`` (the spreadsheet's row number, header = 1) or ``rows`` (every row of
    a duplicate address), ``column`` and ``value``; ``limit`` and ``count`` for
    ``max_invites_limit_exceeded``, ``count`` for a warning about many rows. Keys that
    do not apply are left out."""

    code: str
    message: str
    row: int | None = None
    rows: list[int] | None = None
    column: str | None = None
    value: str | int | None = None
    field: str | None = None
    limit: int | None = None
    count: int | None = None


class PreviewRow(Schema):
    row: int = Field(description="The spreadsheet's row number (header = 1).")
    action: str = Field(
        description="`invite`, `code`, `update_user`, `merge`, `renew` or `existing`."
    )
    email: str
    first_name: str
    last_name: str
    language: str
    groups: str = Field(description="The groups' names, comma-separated.")
    admin: bool


class ImportOut(Schema):
    id: int
    kind: str = Field(description="`file` (invitations) or `codes` (registration codes).")
    filename: str
    created_at: datetime
    progress: ImportProgress
    summary: ImportSummary | None
    errors: list[ImportProblem] = Field(description="The problems, the first 1,000.")
    error_count: int = Field(description="Every problem found, listed or not.")
    warnings: list[ImportProblem] = Field(
        description="Unknown or repeated columns, smart groups: nothing that stops the import."
    )
    preview: list[PreviewRow] = Field(description="The rows asked for (preview_offset/limit).")
    preview_count: int = Field(description="Rows in the whole preview.")
    batch: int | None = Field(
        None,
        description="Once confirmed, the batch its new invitations are stored in: the "
        "export's `batch` parameter exports them (the codes of a codes import).",
    )


PREVIEW_FIELDS = (
    "row",
    "action",
    "email",
    "first_name",
    "last_name",
    "language",
    "groups",
    "admin",
)


def _import_out(invitation_import, *, preview_limit: int = 100) -> dict:
    from portico.invitations.services.imports import (
        invitation_import_preview,
        invitation_import_progress,
    )

    return {
        "id": invitation_import.pk,
        "kind": invitation_import.kind,
        "filename": invitation_import.filename,
        "created_at": invitation_import.created_at,
        "progress": invitation_import_progress(invitation_import),
        "summary": invitation_import.summary or None,
        "errors": invitation_import.errors[:1000],
        "error_count": len(invitation_import.errors),
        "warnings": invitation_import.warnings,
        "preview": [
            dict(zip(PREVIEW_FIELDS, row, strict=True))
            for row in invitation_import_preview(invitation_import, limit=preview_limit)
        ],
        "preview_count": len(invitation_import.plan),
        "batch": invitation_import.batch_id,
    }


@router.get("/template.xlsx", summary="Download the import template")
def download_template(request: HttpRequest, kind: Literal["file", "codes"] = "file"):
    require_admin(request)
    from django.http import HttpResponse

    from portico.invitations.workbooks import template_xlsx

    response = HttpResponse(
        template_xlsx(codes=kind == "codes"),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    name = "portico-codes-template.xlsx" if kind == "codes" else "portico-invitations-template.xlsx"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@router.post(
    "/imports",
    response={202: ImportOut},
    exclude_unset=True,  # a problem's keys that do not apply are left out
    summary="Upload a spreadsheet or CSV file to check (the preview)",
)
def create_import(request: HttpRequest, file: File[UploadedFile], options: Form[ImportOptionsIn]):
    """Multipart form data: the file in `file`, the batch options beside it. The check
    runs in the background: poll `GET /imports/{id}` until the status is `ready` (then
    confirm) or `invalid` (every error with its row, column and value)."""
    from portico.invitations.models import InvitationImport
    from portico.invitations.services.imports import invitation_import_start

    actor = require_admin(request)
    kind = InvitationImport.Kind.CODES if options.kind == "codes" else InvitationImport.Kind.FILE
    invitation_import = invitation_import_start(
        actor=actor,
        upload=file,
        kind=kind,
        options=options.to_options(),
    )
    invitation_import.refresh_from_db()
    return Status(202, _import_out(invitation_import))


def _get_import(import_id: int):
    from portico.invitations.models import InvitationImport

    invitation_import = InvitationImport.objects.filter(pk=import_id).first()
    if invitation_import is None:
        raise NotFound(_("No such import."), id=import_id)
    return invitation_import


@router.get(
    "/imports/{int:import_id}",
    response=ImportOut,
    summary="An import's progress",
    exclude_unset=True,  # a problem's keys that do not apply are left out
)
def get_import(
    request: HttpRequest, import_id: int, preview_offset: int = 0, preview_limit: int = 100
):
    from portico.invitations.services.imports import invitation_import_preview

    require_admin(request)
    invitation_import = _get_import(import_id)
    out = _import_out(invitation_import, preview_limit=0)
    rows = invitation_import_preview(
        invitation_import, offset=max(0, preview_offset), limit=max(0, min(preview_limit, 1000))
    )
    out["preview"] = [dict(zip(PREVIEW_FIELDS, row, strict=True)) for row in rows]
    return out


@router.post(
    "/imports/{int:import_id}/confirm",
    response={202: ImportOut},
    exclude_unset=True,  # a problem's keys that do not apply are left out
    summary="Store and send a checked import",
)
def confirm_import(request: HttpRequest, import_id: int):
    from portico.invitations.services.imports import invitation_import_confirm

    invitation_import = invitation_import_confirm(actor=require_admin(request), import_id=import_id)
    invitation_import.refresh_from_db()
    return Status(202, _import_out(invitation_import))


@router.post(
    "/imports/{int:import_id}/stop-sending",
    response=ImportOut,
    exclude_unset=True,  # a problem's keys that do not apply are left out
    summary="Cancel a stored import's emails that have not gone yet",
)
def stop_sending(request: HttpRequest, import_id: int):
    """The invitations stay, pending (resend or delete them); the emails cancelled are
    counted in `progress.emails_not_sent`. 409 `import_not_stored` before the import is
    stored. Audited."""
    from django.utils import timezone

    from portico.invitations.services.imports import invitation_import_stop_sending

    invitation_import, _cancelled = invitation_import_stop_sending(
        actor=require_admin(request), import_id=import_id, now=timezone.now()
    )
    invitation_import.refresh_from_db()
    return _import_out(invitation_import)


@router.get(
    "/imports/{int:import_id}/errors.xlsx", summary="The uploaded sheet with an added error column"
)
def download_import_errors(request: HttpRequest, import_id: int):
    require_admin(request)
    from django.http import FileResponse

    from portico.invitations.exports import error_sheet_rows
    from portico.invitations.workbooks import xlsx_file

    header, rows = error_sheet_rows(_get_import(import_id))
    return FileResponse(
        xlsx_file(header, rows, sheet="errors"),
        as_attachment=True,
        filename="portico-import-errors.xlsx",
    )


@router.get("/export", summary="Export invitations (xlsx or csv), audited")
def export_invitations(
    request: HttpRequest,
    format: str = "xlsx",
    q: str = "",
    status: str = "",
    batch: int | None = None,
    delimiter: Literal["comma", "semicolon"] = "comma",
):
    """The current filter (`q`, `status`, including `undelivered`) or everything, with
    the working tokens. `batch`: only the invitations that batch created (an import's
    `batch`, e.g. the codes it generated). `delimiter`: the CSV's separator (Excel in
    Belgium, France or the Netherlands expects semicolons)."""
    from portico.invitations.exports import export_response

    return export_response(
        actor=require_admin(request),
        file_format=format,
        search=q,
        status=status,
        batch_id=batch,
        delimiter=delimiter,
    )
