"""``/api/v1/invitations`` (admins) and ``/api/v1/invites/{token}`` (invitees).

Admin operations need an admin's session or API token. The invitee operations are
public and rate-limited per IP; opening (GET) changes nothing, accepting (POST) does.
Spreadsheets and the export are in :mod:`portico.invitations.api_imports`, letters in
:mod:`portico.invitations.api_letters`, bulk resend and delete in
:mod:`portico.invitations.api_bulk` (same prefix).
"""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status

from portico.core.api import require_admin
from portico.core.errors import NotFound
from portico.core.ratelimit import check_rate, client_ip
from portico.invitations.emails import preview_email
from portico.invitations.models import Invitation
from portico.invitations.selectors import (
    SORTS,
    check_acceptable,
    invitation_get_by_token,
    invitation_list_for_admin,
)
from portico.invitations.services.accept import invitation_accept
from portico.invitations.services.create import (
    InviteOptions,
    invitation_create_batch,
    parse_typed_emails,
)
from portico.invitations.services.exports import invitation_tokens_disclosed
from portico.invitations.services.manage import (
    invitation_change_email,
    invitation_delete,
    invitation_resend,
)

router = Router(tags=["invitations"])
public_router = Router(tags=["invites (public)"], auth=None)


class BatchOptionsIn(Schema):
    """The options of a batch; spreadsheet cells override them row by row."""

    is_admin: bool = False
    moderator: bool = Field(False, description="Give moderator rights on `project_ids`.")
    project_ids: list[int] = []
    group_ids: list[int] = []
    language: str | None = Field(None, description="A platform language; default the first.")
    message: str = Field("", description="Personal message; safe formatting only.")
    send_email: bool = True

    def to_options(self) -> InviteOptions:
        return InviteOptions(
            is_admin=self.is_admin,
            moderator=self.moderator,
            project_ids=self.project_ids,
            group_ids=self.group_ids,
            language=self.language,
            message=self.message,
            send_email=self.send_email,
        )


class InviteIn(BatchOptionsIn):
    emails: list[str] = Field(..., description="Addresses; 'Name <address>' is understood.")


class Warning_(Schema):
    code: str
    message: str
    position: int | None = None
    positions: list[int] | None = Field(None, description="Where it applies (the first 20).")
    count: int | None = Field(None, description="How many addresses it applies to.")
    value: str | None = None


class BatchOut(Schema):
    batch_id: int
    invited: int
    updated: int
    merged: int
    renewed: int
    codes: int
    emails: int
    warnings: list[Warning_]
    invitation_ids: list[int]


class InvitationOut(Schema):
    id: int
    email: str | None
    first_name: str
    last_name: str
    language: str
    is_admin: bool
    group_ids: list[int]
    moderated_project_ids: list[int]
    status: str
    token: str | None = Field(
        None, description="The working token: only with include_tokens=true (audited)."
    )
    inviter: str | None
    created_at: datetime
    sent_at: datetime | None
    expires_at: datetime
    reminder_sent_at: datetime | None
    accepted_at: datetime | None
    delivery_error: str


class InvitationPage(Schema):
    count: int
    page: int
    page_size: int
    items: list[InvitationOut]


class EmailPreviewIn(Schema):
    language: str | None = Field(None, description="A platform language; default the first.")
    message: str = Field("", description="Personal message, sanitised as when sending.")
    first_name: str = Field("", description="A sample invitee's first name, for the greeting.")
    last_name: str = ""


class EmailPreviewOut(Schema):
    subject: str
    text: str = Field(..., description="The plain-text part.")
    html: str = Field(..., description="The HTML part.")


class InvitationEmailIn(Schema):
    email: str = Field(..., description="The new address.")


class InviteLookupOut(Schema):
    email: str | None
    first_name: str
    last_name: str
    language: str
    inviter: str | None
    expires_at: datetime
    email_required: bool


class AcceptIn(Schema):
    first_name: str
    last_name: str
    password: str
    email: str | None = Field(None, description="Only for codes without an address.")


class AcceptOut(Schema):
    user_id: int
    email: str
    is_admin: bool


def _out(invitation: Invitation, now: datetime, *, with_token: bool = False) -> dict:
    return {
        "id": invitation.pk,
        "email": invitation.email,
        "first_name": invitation.first_name,
        "last_name": invitation.last_name,
        "language": invitation.language,
        "is_admin": invitation.is_admin,
        "group_ids": sorted(g.pk for g in invitation.groups.all()),
        "moderated_project_ids": sorted(p.pk for p in invitation.moderated_projects.all()),
        "status": invitation.effective_status(now),
        "token": invitation.token_display if with_token else None,
        "inviter": invitation.inviter.email if invitation.inviter else None,
        "created_at": invitation.created_at,
        "sent_at": invitation.sent_at,
        "expires_at": invitation.expires_at,
        "reminder_sent_at": invitation.reminder_sent_at,
        "accepted_at": invitation.accepted_at,
        "delivery_error": invitation.delivery_error,
    }


@router.post("", response={201: BatchOut}, summary="Invite people by email address")
def create_invitations(request: HttpRequest, payload: InviteIn):
    """All or nothing: any invalid row answers 422 with every problem and its position
    (counted from 1); nothing is stored or sent."""
    actor = require_admin(request)
    result = invitation_create_batch(
        actor=actor, rows=parse_typed_emails(payload.emails), options=payload.to_options()
    )
    return Status(
        201,
        {
            "batch_id": result.batch.pk,
            **result.counts,
            "warnings": result.warnings,
            "invitation_ids": result.invitation_ids,
        },
    )


@router.post("/preview", response=EmailPreviewOut, summary="Preview the invitation email")
def preview_invitation_email(request: HttpRequest, payload: EmailPreviewIn):
    """The invitation email an invitee would receive, in ``language``, from the signed-in
    admin. Its link carries a placeholder, not a token: nothing is stored or sent.
    ``unknown_locale`` (422) when the language is not a platform language."""
    email = preview_email(
        inviter=require_admin(request),
        language=payload.language,
        message=payload.message,
        first_name=payload.first_name,
        last_name=payload.last_name,
    )
    return {"subject": email.subject, "text": email.body, "html": email.alternatives[0].content}


@router.get("", response=InvitationPage, summary="List invitations")
def list_invitations(
    request: HttpRequest,
    q: str = "",
    status: str = "",
    sort: str = "-date",
    page: int = 1,
    page_size: int = 50,
    include_tokens: bool = False,
):
    """Search by name or email; ``status`` is pending, accepted, expired or undelivered
    (not accepted, and the mail server refused its last email); ``sort`` is
    one of email, name, date, status, expires (prefix ``-`` for descending).
    ``include_tokens=true`` adds the working tokens; like an export, that is audited."""
    actor = require_admin(request)
    now = timezone.now()
    page_size = max(1, min(page_size, 500))
    page = max(1, page)
    invitations = invitation_list_for_admin(
        search=q, status=status, sort=sort if sort in SORTS else "-date", now=now
    )
    items = invitations.prefetch_related("groups", "moderated_projects")[
        (page - 1) * page_size : page * page_size
    ]
    items = list(items)
    if include_tokens:
        invitation_tokens_disclosed(
            actor=actor, count=len(items), search=q, status=status, page=page
        )
    return {
        "count": invitations.count(),
        "page": page,
        "page_size": page_size,
        "items": [_out(i, now, with_token=include_tokens) for i in items],
    }


@router.get("/{int:invitation_id}", response=InvitationOut, summary="Get an invitation")
def get_invitation(request: HttpRequest, invitation_id: int, include_tokens: bool = False):
    """``include_tokens=true`` adds the working token (audited)."""
    actor = require_admin(request)
    invitation = Invitation.objects.filter(pk=invitation_id).first()
    if invitation is None:
        raise NotFound(_("No such invitation."), id=invitation_id)
    if include_tokens:
        invitation_tokens_disclosed(actor=actor, count=1, invitation=invitation.pk)
    return _out(invitation, timezone.now(), with_token=include_tokens)


@router.patch(
    "/{int:invitation_id}",
    response=InvitationOut,
    summary="Change the address of an invitation (and send it there)",
)
def change_invitation_email(request: HttpRequest, invitation_id: int, payload: InvitationEmailIn):
    """For an invitation that could not be delivered, or a code to send by email. The
    invitation gets a new token (the old link stops working), its lifetime restarts and
    it is sent to the new address. Errors: not_found 404, invitation_already_accepted
    409, invalid_email 422, email_registered 409, email_already_invited 409 (with
    ``other_id``)."""
    invitation = invitation_change_email(
        actor=require_admin(request), invitation_id=invitation_id, email=payload.email
    )
    return _out(invitation, timezone.now())


@router.delete("/{int:invitation_id}", response={204: None}, summary="Delete an invitation")
def delete_invitation(request: HttpRequest, invitation_id: int):
    invitation_delete(actor=require_admin(request), invitation_id=invitation_id)
    return Status(204, None)


@router.post(
    "/{int:invitation_id}/resend",
    response=InvitationOut,
    summary="Resend (and renew) an invitation",
)
def resend_invitation(request: HttpRequest, invitation_id: int):
    invitation = invitation_resend(actor=require_admin(request), invitation_id=invitation_id)
    return _out(invitation, timezone.now())


@public_router.get("/{token}", response=InviteLookupOut, summary="Look up an invitation")
def lookup_invite(request: HttpRequest, token: str):
    """What the accept form shows. Changes nothing. Errors: token_mistyped 422,
    token_not_found 404, invitation_already_accepted 409, invitation_expired 410,
    rate_limited 429."""
    check_rate("token_lookup", client_ip(request))
    invitation = invitation_get_by_token(token)
    check_acceptable(invitation)
    return {
        "email": invitation.email,
        "first_name": invitation.first_name,
        "last_name": invitation.last_name,
        "language": invitation.language,
        "inviter": invitation.inviter.display_name if invitation.inviter else None,
        "expires_at": invitation.expires_at,
        "email_required": not invitation.email,
    }


@public_router.post(
    "/{token}/accept",
    response={201: AcceptOut},
    summary="Accept an invitation and create the account",
)
def accept_invite(request: HttpRequest, token: str, payload: AcceptIn):
    check_rate("token_lookup", client_ip(request))
    user = invitation_accept(
        token=token,
        email=payload.email,
        first_name=payload.first_name,
        last_name=payload.last_name,
        password=payload.password,
    )
    return Status(201, {"user_id": user.pk, "email": user.email, "is_admin": user.is_admin})
