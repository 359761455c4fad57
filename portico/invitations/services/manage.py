"""Managing invitations: resend and delete, one or many; resend on request."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portico.accounts.models import User
from portico.core.audit import audit
from portico.core.errors import ApplicationError, NotFound
from portico.invitations.models import Invitation, InvitationMessage
from portico.invitations.selectors import pending_invitation_for_address
from portico.invitations.services.common import queue_messages, restart_lifetime


def _resend(*, actor: User | None, invitation: Invitation, now, verb: str) -> Invitation:
    if invitation.status == Invitation.Status.ACCEPTED:
        raise ApplicationError(
            "invitation_already_accepted",
            _("This invitation has already been accepted."),
            status=409,
            id=invitation.pk,
        )
    if invitation.email and User.objects.filter(email__iexact=invitation.email).exists():
        raise ApplicationError(
            "email_registered",
            _(
                "%(email)s has registered in the meantime; invite the account again to give "
                "it these rights."
            )
            % {"email": invitation.email},
            status=409,
            id=invitation.pk,
        )
    # Also cancels any email of it still waiting in the outbox: the new one replaces it.
    restart_lifetime(invitation, now=now)
    if invitation.email:
        # Created without email (send_invite_email FALSE)? Resending is an explicit
        # request for one.
        invitation.send_email = True
    invitation.save()
    queue_messages([invitation], kind=InvitationMessage.Kind.INVITATION, now=now)
    audit(actor=actor, verb=verb, target=invitation, expires_at=invitation.expires_at.isoformat())
    return invitation


@transaction.atomic
def invitation_resend(*, actor: User, invitation_id: int) -> Invitation:
    """Send a pending or expired invitation again: same token, lifetime restarted (new
    expiry, one new reminder later). Codes without an address are renewed, not sent."""
    invitation = Invitation.objects.select_for_update().filter(pk=invitation_id).first()
    if invitation is None:
        raise NotFound(_("No such invitation."), id=invitation_id)
    return _resend(actor=actor, invitation=invitation, now=timezone.now(), verb="invitation.resent")


@transaction.atomic
def invitation_delete(*, actor: User, invitation_id: int) -> None:
    """Delete an invitation. A pending one takes its promised roles and groups with it
    and frees the address to be invited again; an accepted one keeps its account."""
    invitation = Invitation.objects.select_for_update().filter(pk=invitation_id).first()
    if invitation is None:
        raise NotFound(_("No such invitation."), id=invitation_id)
    audit(
        actor=actor,
        verb="invitation.deleted",
        target=invitation,
        status=invitation.effective_status(),
        email=invitation.email or "",
    )
    invitation.delete()


def _bulk(operation, *, actor: User, ids: Iterable[int]) -> list[dict[str, Any]]:
    """Run ``operation`` per id; each id reports its own outcome and one failure does not
    stop the others."""
    outcomes = []
    for invitation_id in dict.fromkeys(ids):
        try:
            operation(actor=actor, invitation_id=invitation_id)
        except ApplicationError as error:
            outcomes.append(
                {
                    "id": invitation_id,
                    "ok": False,
                    "code": error.code,
                    "message": str(error.message),
                }
            )
        else:
            outcomes.append({"id": invitation_id, "ok": True})
    return outcomes


def invitations_resend(*, actor: User, ids: Iterable[int]) -> list[dict[str, Any]]:
    return _bulk(invitation_resend, actor=actor, ids=ids)


def invitations_delete(*, actor: User, ids: Iterable[int]) -> list[dict[str, Any]]:
    return _bulk(invitation_delete, actor=actor, ids=ids)


@transaction.atomic
def invitation_resend_to_address(*, email: str) -> bool:
    """ "Send my invitation again", asked from the sign-up page by someone who types the
    address. Resends the pending invitation, if any (rate-limited by the caller).
    Returns whether one was sent; the caller answers the same either way."""
    invitation = pending_invitation_for_address(email)
    if invitation is None or not invitation.send_email:
        return False
    # The same email again, without touching the expiry: a stranger's request must not
    # keep an invitation alive.
    queue_messages([invitation], kind=InvitationMessage.Kind.INVITATION, now=timezone.now())
    audit(actor=None, verb="invitation.resent_on_request", target=invitation)
    return True
