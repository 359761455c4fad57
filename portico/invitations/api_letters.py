"""``/api/v1/invitations/letters.pdf``: printable letters for pending invitations.

Mounted on the same prefix as :mod:`portico.invitations.api` (admins only, the API's
default), in a module of its own to keep that one small. The path is literal, so it
never meets ``/{int:invitation_id}``.
"""

from __future__ import annotations

from django.http import FileResponse, HttpRequest
from ninja import Query, Router

from portico.core.api import require_admin
from portico.invitations.letters import letters_filename
from portico.invitations.services.letters import invitation_letters_print

router = Router(tags=["invitations"])

PDF_RESPONSE = {
    "responses": {
        200: {
            "description": "The letters: one A4 page per pending invitation.",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        }
    }
}


@router.get(
    "/letters.pdf",
    summary="Print letters (PDF), audited",
    openapi_extra=PDF_RESPONSE,
)
def print_letters(
    request: HttpRequest,
    batch: int | None = None,
    ids: Query[list[int] | None] = None,
    part: int | None = None,
):
    """One A4 page per pending invitation of the batch ``batch`` (the `batch_id` of an
    import or a typed batch) and/or among ``ids`` (repeat it: `?ids=1&ids=2`), each in
    the invitation's language, with its code, the address to type it at and a QR code
    of its link. Accepted and expired invitations are skipped. Letters carry working
    tokens: every print is recorded in the audit log. More than `PORTICO_MAX_LETTERS`
    letters are printed in parts: `part=1`, `part=2`... (from 1, in the batch's order).

    Errors: `invalid` 422 (neither `batch` nor `ids`), `not_found` 404 (unknown batch),
    `no_letters` 422 (nothing pending selected, or a part past the end),
    `too_many_letters` 422 (more than `PORTICO_MAX_LETTERS` without `part`, with
    `limit`, `count` and `parts`)."""
    letters = invitation_letters_print(
        actor=require_admin(request), batch_id=batch, ids=ids, part=part
    )
    return FileResponse(
        letters.file,
        as_attachment=True,
        filename=letters_filename(),
        content_type="application/pdf",
    )
