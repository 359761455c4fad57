"""``/api/v1/invitations/letters``: printable letters for pending invitations.

Mounted on the same prefix as :mod:`portico.invitations.api` (admins only, the API's
default), in a module of its own to keep that one small. Every path here starts with the
literal ``letters``, so it never meets ``/{int:invitation_id}``.

Prints (the usual way) are drawn by the worker: ``POST /letters`` queues one, ``GET
/letters/{id}`` follows its progress, ``GET /letters/{id}.pdf`` downloads it. ``GET
/letters.pdf`` still draws a small selection in the request.
"""

from __future__ import annotations

from datetime import datetime

from django.http import FileResponse, HttpRequest
from django.urls import reverse
from ninja import Field, Query, Router, Schema, Status

from portico.core.api import require_admin
from portico.core.errors import NotFound
from portico.invitations.letters import letters_filename
from portico.invitations.models import LetterPrint
from portico.invitations.services.letters import (
    letter_print_available_until,
    letter_print_download,
    letter_print_start,
    letter_prints_shown,
)
from portico.invitations.services.letters_in_request import invitation_letters_print

router = Router(tags=["invitations"])


def _pdf_response(description: str) -> dict:
    return {
        "responses": {
            200: {
                "description": description,
                "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    }


class LetterPrintIn(Schema):
    """What to print: a batch, invitation ids, or both (the ids within the batch)."""

    batch: int | None = Field(None, description="The `batch_id` of an import or a typed batch.")
    ids: list[int] | None = Field(None, description="Invitation ids.")


class LetterPrintOut(Schema):
    id: int
    status: str = Field(..., description="`queued`, `drawing`, `done` or `failed`.")
    total: int = Field(..., description="Letters to draw (once done: letters drawn).")
    drawn: int = Field(..., description="Letters drawn so far.")
    batch: int | None
    ids_count: int | None = Field(None, description="How many ids the selection named.")
    created_at: datetime
    finished_at: datetime | None
    failure: str = Field("", description="Why the print failed.")
    download_url: str | None = Field(
        None, description="Where to download the PDF, once done and until it is deleted."
    )
    available_until: datetime | None = Field(
        None, description="When the PDF is deleted (`PORTICO_LETTERS_RETENTION`)."
    )


def _print_out(letter_print: LetterPrint) -> dict:
    """A print of :func:`letter_prints_shown` as the API shows it."""
    ready = letter_print.status == LetterPrint.Status.DONE and bool(letter_print.file)
    return {
        "id": letter_print.pk,
        "status": letter_print.status,
        "total": letter_print.total,
        "drawn": letter_print.drawn,
        "batch": letter_print.batch_id,
        "ids_count": letter_print.ids_count,
        "created_at": letter_print.created_at,
        "finished_at": letter_print.finished_at,
        "failure": letter_print.failure,
        "download_url": (
            reverse("api:download_letter_print", kwargs={"print_id": letter_print.pk})
            if ready
            else None
        ),
        "available_until": letter_print_available_until(letter_print) if ready else None,
    }


@router.post(
    "/letters", response={202: LetterPrintOut}, summary="Print letters (queued for the worker)"
)
def start_letter_print(request: HttpRequest, payload: LetterPrintIn):
    """Queue a print: one A4 page per pending invitation of `batch` and/or among `ids`,
    each in the invitation's language, with its code, the address to type it at and a
    QR code of its link; accepted and expired invitations are skipped. The worker draws
    the PDF (about 3 ms a letter): poll `GET /letters/{id}` until `status` is `done`,
    then download it from `download_url`. Recorded in the audit log.

    Errors: `invalid` 422 (neither `batch` nor `ids`), `not_found` 404 (unknown batch),
    `no_letters` 422 (nothing pending selected), `too_many_letters` 422 (more than
    `PORTICO_MAX_LETTERS`, with `limit` and `count`)."""
    letter_print = letter_print_start(
        actor=require_admin(request), batch_id=payload.batch, ids=payload.ids
    )
    # Read again: drawn already when tasks run inline.
    return Status(202, _print_out(letter_prints_shown().get(pk=letter_print.pk)))


@router.get("/letters", response=list[LetterPrintOut], summary="Recent prints of letters")
def list_letter_prints(request: HttpRequest, limit: int = 50):
    """The most recent prints first, every admin's (at most `limit`, up to 200)."""
    require_admin(request)
    prints = letter_prints_shown()[: max(0, min(limit, 200))]
    return [_print_out(p) for p in prints]


@router.get("/letters/{int:print_id}", response=LetterPrintOut, summary="A print's progress")
def get_letter_print(request: HttpRequest, print_id: int):
    """`drawn` of `total` letters; once `done`, the `download_url` of the PDF, until
    `available_until`. Error: `not_found` 404."""
    require_admin(request)
    letter_print = letter_prints_shown().filter(pk=print_id).first()
    if letter_print is None:
        raise NotFound(id=print_id)
    return _print_out(letter_print)


@router.get(
    "/letters/{int:print_id}.pdf",
    url_name="download_letter_print",
    summary="Download a print's letters (PDF), audited",
    openapi_extra=_pdf_response("The letters: one A4 page per pending invitation."),
)
def download_letter_print(request: HttpRequest, print_id: int):
    """The PDF of a finished print, as an attachment. Letters carry working tokens:
    every download is recorded in the audit log.

    Errors: `not_found` 404 (unknown print), `letters_not_ready` 409 (queued, drawing or
    failed; with `print_status`), `letters_deleted` 410 (deleted after
    `PORTICO_LETTERS_RETENTION`: print again)."""
    download = letter_print_download(actor=require_admin(request), print_id=print_id)
    return FileResponse(
        download.file,
        as_attachment=True,
        filename=download.filename,
        content_type="application/pdf",
    )


@router.get(
    "/letters.pdf",
    summary="Print a few letters at once (PDF), audited",
    openapi_extra=_pdf_response("The letters: one A4 page per pending invitation."),
)
def print_letters(
    request: HttpRequest,
    batch: int | None = None,
    ids: Query[list[int] | None] = None,
    part: int | None = None,
):
    """Draws the letters in the request, for small selections: at most
    `PORTICO_MAX_LETTERS_IN_REQUEST` (1,000 by default, about 3 s). For more, queue a
    print with `POST /letters`, drawn by the worker; `part=1`, `part=2`... (from 1, in
    the batch's order) still prints a larger selection in runs of that size.

    One A4 page per pending invitation of the batch ``batch`` (the `batch_id` of an
    import or a typed batch) and/or among ``ids`` (repeat it: `?ids=1&ids=2`), each in
    the invitation's language, with its code, the address to type it at and a QR code
    of its link. Accepted and expired invitations are skipped. Letters carry working
    tokens: every print is recorded in the audit log.

    Errors: `invalid` 422 (neither `batch` nor `ids`), `not_found` 404 (unknown batch),
    `no_letters` 422 (nothing pending selected, or a part past the end),
    `too_many_letters` 422 (more than `PORTICO_MAX_LETTERS_IN_REQUEST` without `part`,
    with `limit`, `count` and `parts`)."""
    letters = invitation_letters_print(
        actor=require_admin(request), batch_id=batch, ids=ids, part=part
    )
    return FileResponse(
        letters.file,
        as_attachment=True,
        filename=letters_filename(),
        content_type="application/pdf",
    )
