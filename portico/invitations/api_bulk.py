"""``/api/v1/invitations/bulk/...``: resend and delete many invitations at once, a
selection (ids) or everything a filter of the list matches. Admins only (the API's
default). Mounted on the same prefix as :mod:`portico.invitations.api`.
"""

from __future__ import annotations

from collections import Counter
from typing import Literal

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema

from portico.core.api import require_admin
from portico.core.errors import ApplicationError
from portico.invitations.selectors import InvitationFilter
from portico.invitations.services.manage_many import (
    BulkSummary,
    invitations_delete,
    invitations_delete_matching,
    invitations_resend,
    invitations_resend_matching,
)

router = Router(tags=["invitations"])


class InvitationFilterIn(Schema):
    """The list's filter (``GET /api/v1/invitations``), as a target."""

    q: str = Field("", description="Search by name or email, as the list's `q`.")
    status: Literal["", "pending", "accepted", "expired", "undelivered"] = Field(
        "", description="As the list's `status`; empty for every status."
    )
    all: bool = Field(
        False,
        description="Must be true when `q` and `status` are both empty: the filter then "
        "matches every invitation, which is never assumed.",
    )

    def to_filter(self) -> InvitationFilter:
        return InvitationFilter(search=self.q.strip(), status=self.status, everything=self.all)


class BulkIn(Schema):
    """Exactly one of ``ids`` and ``filter``."""

    ids: list[int] | None = Field(None, description="The invitations, by id.")
    filter: InvitationFilterIn | None = Field(
        None, description="Instead of `ids`: every invitation the list shows for this filter."
    )


class Outcome(Schema):
    id: int
    ok: bool
    code: str | None = None
    message: str | None = None


class FailureCount(Schema):
    code: str = Field(..., description="The error code, as a single operation answers it.")
    count: int
    message: str


class BulkOut(Schema):
    succeeded: int
    failed: int
    results: list[Outcome] | None = Field(
        None, description="With `ids`: one outcome per distinct id, in the order sent."
    )
    failures: list[FailureCount] = Field(..., description="The failures, counted per code.")
    emails: int | None = Field(
        None, description="Resend by filter: the invitation emails queued (codes get none)."
    )
    up_to_id: int | None = Field(
        None, description="With `filter`: the highest id considered (the last match at the start)."
    )


def _run(request: HttpRequest, payload: BulkIn, *, by_ids, by_filter, emails: bool) -> dict:
    """Authorize, then run ``by_ids`` or ``by_filter`` on what ``payload`` names;
    ``ids_or_filter_required`` (422) unless it names exactly one of ids and a filter."""
    actor = require_admin(request)
    if (payload.ids is None) == (payload.filter is None):
        raise ApplicationError(
            "ids_or_filter_required",
            _("Send either ids or a filter, not both and not neither."),
            status=422,
        )
    if payload.filter is None:
        results = by_ids(actor=actor, ids=payload.ids or [])
        ok = sum(1 for r in results if r["ok"])
        failed = Counter(r["code"] for r in results if not r["ok"])
        return {
            "succeeded": ok,
            "failed": len(results) - ok,
            "results": results,
            "failures": BulkSummary(failed=failed).failures(),
        }
    summary = by_filter(actor=actor, invitation_filter=payload.filter.to_filter())
    return {
        "succeeded": summary.succeeded,
        "failed": summary.failed_count,
        "failures": summary.failures(),
        "emails": summary.emails if emails else None,
        "up_to_id": summary.up_to_id,
    }


@router.post("/bulk/resend", response=BulkOut, summary="Resend many invitations")
def bulk_resend(request: HttpRequest, payload: BulkIn):
    """Resend a selection (``{"ids": [...]}``) or every invitation a filter of the list
    matches (``{"filter": {"q": "...", "status": "expired"}}``), each exactly as
    ``POST /{id}/resend`` would: pending and expired invitations keep their token, their
    lifetime restarts (new expiry, reminder reset) and one email is queued; codes
    without an address are renewed without email. Accepted invitations fail with
    ``invitation_already_accepted``, addresses registered meanwhile with
    ``email_registered``; the others proceed.

    With ``ids``, ``results`` has one outcome per distinct id (unknown ids:
    ``not_found``). With ``filter``, only counts come back (``failures`` per code,
    ``emails`` queued): the filter is applied as of the request and in chunks, to the
    invitations up to ``up_to_id``, each once; invitations created or sent by someone
    else during the request are left alone. A filter without ``q`` and ``status``
    matches every invitation and needs ``"all": true``.

    Errors (422): ``ids_or_filter_required`` (both or neither), ``empty_filter``
    (everything, without ``all``), ``invalid`` (a malformed body or unknown status)."""
    return _run(
        request,
        payload,
        by_ids=invitations_resend,
        by_filter=invitations_resend_matching,
        emails=True,
    )


@router.post("/bulk/delete", response=BulkOut, summary="Delete many invitations")
def bulk_delete(request: HttpRequest, payload: BulkIn):
    """Delete a selection (``{"ids": [...]}``) or every invitation a filter of the list
    matches (``{"filter": {"q": "...", "status": "expired"}}``), each exactly as
    ``DELETE /{id}`` would: a pending invitation withdraws the groups and roles it
    carried and frees its address; an accepted one keeps its account.

    With ``ids``, ``results`` has one outcome per distinct id (unknown ids:
    ``not_found``). With ``filter``, only counts come back: the filter is applied as of
    the request, in chunks, to the invitations up to ``up_to_id``; invitations created
    during the request are kept. A filter without ``q`` and ``status`` matches every
    invitation and needs ``"all": true``.

    Errors (422): ``ids_or_filter_required``, ``empty_filter``, ``invalid``."""
    return _run(
        request,
        payload,
        by_ids=invitations_delete,
        by_filter=invitations_delete_matching,
        emails=False,
    )
