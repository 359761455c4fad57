"""Managing invitations: resend and delete, one or many; resend on request; change the
address of one that could not be delivered."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portico.accounts.models import User, normalize_email
from portico.core.audit import audit
from portico.core.errors import ApplicationError, NotFound
from portico.invitations import tokens
from portico.invitations.models import Invitation, InvitationMessage
from portico.invitations.selectors import (
    open_invitation_for_address,
    pending_invitation_for_address,
)
from portico.invitations.services.common import queue_messages, restart_lifetime
from portico.invitations.services.planning import is_valid_email


def _refuse_if_accepted(invitation: Invitation) -> None:
    """``invitation_already_accepted`` (409): an accepted invitation is history."""
    if invitation.status == Invitation.Status.ACCEPTED:
        raise ApplicationError(
            "invitation_already_accepted",
            _("This invitation has already been accepted."),
            status=409,
            id=invitation.pk,
        )


def _resend(*, actor: User | None, invitation: Invitation, now, verb: str) -> Invitation:
    _refuse_if_accepted(invitation)
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


@transaction.atomic
def invitation_change_email(*, actor: User, invitation_id: int, email: str) -> Invitation:
    """Give a not-accepted invitation (or a code without an address) a new address and
    send it there: the fix for an invitation the mail server refused.

    The address is trimmed and its domain lower-cased (as accounts store addresses);
    addresses are compared without regard to case, as the one-open-invitation-per-address
    constraint does. On success the invitation has the new address and a NEW token (the
    old email may have reached the wrong mailbox: its link stops working), its lifetime
    restarts (new expiry, one new reminder later), its delivery failure is cleared, emails
    of it still waiting in the outbox are cancelled, and one invitation email to the new
    address is queued (delivered by the worker after commit). Groups, rights, language
    and message are kept. Audited as ``invitation.email_changed`` with both addresses.

    Raises ``not_found`` 404, ``invitation_already_accepted`` 409, ``invalid_email`` 422
    (with the ``value`` typed), ``email_registered`` 409 (an account has the address:
    invite the account instead) and ``email_already_invited`` 409 (another open
    invitation has it, named by ``other_id``; also when one is created concurrently).
    """
    invitation = Invitation.objects.select_for_update().filter(pk=invitation_id).first()
    if invitation is None:
        raise NotFound(_("No such invitation."), id=invitation_id)
    _refuse_if_accepted(invitation)
    address = normalize_email(email)
    if not is_valid_email(address):
        raise ApplicationError(
            "invalid_email",
            _("%(value)s is not a valid email address.") % {"value": email},
            status=422,
            id=invitation.pk,
            field="email",
            value=email,
        )
    if User.objects.filter(email__iexact=address).exists():
        raise ApplicationError(
            "email_registered",
            _(
                "%(email)s belongs to a registered account; invite that account to give it "
                "these rights."
            )
            % {"email": address},
            status=409,
            id=invitation.pk,
            field="email",
        )
    other = open_invitation_for_address(address)
    if other is not None and other.pk != invitation.pk:
        raise _already_invited(invitation, address, other)

    now = timezone.now()
    old_email = invitation.email
    invitation.email = address
    # A new token: whoever received the old email (perhaps the wrong person) cannot use it.
    invitation.token_nonce = tokens.new_nonce()
    invitation.token_hash = tokens.lookup_hash(tokens.token_for_nonce(invitation.token_nonce))
    # Clears the delivery failure and cancels the old address's emails still waiting.
    restart_lifetime(invitation, now=now)
    invitation.send_email = True  # a code without an address becomes an email invitation
    try:
        with transaction.atomic():
            invitation.save()
    except IntegrityError as error:
        # An invitation of this address was created between the check above and here
        # (the open-address constraint); the savepoint keeps the transaction usable.
        raise _already_invited(invitation, address, open_invitation_for_address(address)) from error
    queue_messages([invitation], kind=InvitationMessage.Kind.INVITATION, now=now)
    audit(
        actor=actor,
        verb="invitation.email_changed",
        target=invitation,
        old_email=old_email or "",
        new_email=address,
        expires_at=invitation.expires_at.isoformat(),
    )
    return invitation


def _already_invited(
    invitation: Invitation, address: str, other: Invitation | None
) -> ApplicationError:
    """``email_already_invited`` (409), naming ``other`` when it is known."""
    details: dict[str, Any] = {"id": invitation.pk, "field": "email"}
    if other is not None:
        details["other_id"] = other.pk
        message = _(
            "%(email)s already has an open invitation (#%(other)s): resend or delete that one."
        ) % {"email": address, "other": other.pk}
    else:
        message = _("%(email)s already has an open invitation.") % {"email": address}
    return ApplicationError("email_already_invited", message, status=409, **details)


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
