"""Managing one invitation: resend and delete it; resend on request; change the address
of one that could not be delivered. Many at once (a selection, a filter):
:mod:`portico.invitations.services.manage_many`, which also does the work of the single
resend and delete."""

from __future__ import annotations

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
from portico.invitations.services.manage_many import already_accepted, delete_one, resend_one
from portico.invitations.services.planning import is_valid_email


def invitation_resend(*, actor: User, invitation_id: int) -> Invitation:
    """Send a pending or expired invitation again: same token, lifetime restarted (new
    expiry, one new reminder later), emails of it still waiting in the outbox replaced
    by one new invitation email, queued for after the commit. Codes without an address
    are renewed, not sent. Audited as ``invitation.resent``.

    Raises ``not_found`` 404, ``invitation_already_accepted`` 409 and
    ``email_registered`` 409 (the address has an account now). The same implementation
    resends a selection or a filter (:mod:`portico.invitations.services.manage_many`)."""
    resend_one(actor=actor, invitation_id=invitation_id)
    return Invitation.objects.get(pk=invitation_id)


def invitation_delete(*, actor: User, invitation_id: int) -> None:
    """Delete an invitation. A pending one takes its promised roles and groups with it
    and frees the address to be invited again; an accepted one keeps its account.
    Audited as ``invitation.deleted`` with its status and address. Raises ``not_found``
    404."""
    delete_one(actor=actor, invitation_id=invitation_id)


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
    if invitation.status == Invitation.Status.ACCEPTED:
        raise already_accepted(invitation.pk)
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
