"""Delivery failures reported after the fact: bounces and rejections that the email
provider sends back through its tracking webhook, long after the mail server accepted
the email (a refusal during the SMTP exchange is recorded by the outbox job instead)."""

from __future__ import annotations

import logging
import re
from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef, Value
from django.db.models.functions import Lower

from portico.core.audit import audit
from portico.core.logging import mask_tokens
from portico.invitations.models import Invitation, InvitationMessage

logger = logging.getLogger(__name__)

# The X-Portico-Message header's value (see emails.build_message): "<kind>-<message id>".
_MESSAGE_REF = re.compile(rf"^\s*({'|'.join(InvitationMessage.Kind.values)})-(\d{{1,18}})\s*$")
_ERROR_LENGTH = Invitation._meta.get_field("delivery_error").max_length or 500


def parse_message_ref(value: str | None) -> tuple[str, int] | None:
    """``("invitation", 12)`` for ``"invitation-12"``; None for anything else."""
    match = _MESSAGE_REF.match(value or "")
    return (match.group(1), int(match.group(2))) if match else None


def invitation_record_bounce(
    *,
    recipient: str,
    reason: str,
    when: datetime,
    message_ref: str | None = None,
    event: str = "bounced",
) -> int:
    """Mark as undeliverable the invitation whose email to ``recipient`` bounced (or was
    rejected or failed: ``event``). Returns how many invitations it marked.

    Which invitation: with ``message_ref`` (the ``X-Portico-Message`` value of the email,
    when the provider echoes it), the one that message belongs to; otherwise the open
    (not accepted) invitation of that address, compared case-insensitively as the
    one-open-per-address constraint does. Either way only while the invitation is not
    accepted, still has that address (a fixed address stays fixed) and an email was
    actually sent to it; anything else (an unknown recipient, someone else's mail from
    the same provider account) changes nothing.

    It sets ``delivery_failed_at`` to ``when`` and ``delivery_error`` to
    ``"<event>: <reason>"`` (tokens masked, truncated to the field), and audits
    ``invitation.delivery_failed`` with no actor. Idempotent: an invitation already
    marked (by an earlier post of the same webhook, or by the mail server's refusal) is
    left as it is and audited once. One transaction; no email is sent.
    """
    address = (recipient or "").strip()
    if not address:
        return 0
    error = mask_tokens(f"{event}: {reason}" if reason else event)[:_ERROR_LENGTH]
    sent = InvitationMessage.objects.filter(invitation=OuterRef("pk"), sent_at__isnull=False)
    ref = parse_message_ref(message_ref)
    if ref is not None:
        kind, message_id = ref
        sent = sent.filter(pk=message_id, kind=kind)
    candidates = (
        Invitation.objects.open_for_address()
        .annotate(email_lower=Lower("email"))
        .filter(email_lower=Lower(Value(address)), delivery_failed_at__isnull=True)
        .filter(Exists(sent))
    )
    marked = 0
    with transaction.atomic():
        for invitation in list(candidates):
            # Conditional, so that two posts of the same bounce mark (and audit) it once.
            updated = (
                Invitation.objects.filter(
                    pk=invitation.pk, email=invitation.email, delivery_failed_at__isnull=True
                )
                .exclude(status=Invitation.Status.ACCEPTED)
                .update(delivery_failed_at=when, delivery_error=error)
            )
            if not updated:
                continue
            audit(
                actor=None,
                verb="invitation.delivery_failed",
                target=invitation,
                error=error[:200],
                source="webhook",
            )
            marked += 1
    if marked:
        # No address and no error text: addresses are personal data, errors quote them.
        logger.info("bounce recorded: %s invitation(s), %s", marked, event)
    return marked
