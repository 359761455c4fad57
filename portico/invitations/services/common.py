"""Pieces shared by the invitation services: lifetimes, audit in bulk, the outbox."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction

from portico.core.bulk import db_datetime, insert_for_ids
from portico.core.durations import parse_duration
from portico.core.models import AuditEvent
from portico.invitations.models import Invitation, InvitationMessage


def invitation_ttl() -> timedelta:
    return parse_duration(settings.PORTICO_INVITATION_TTL)


def reminder_delay() -> timedelta:
    return parse_duration(settings.PORTICO_REMINDER_DELAY)


def audit_invitations(
    *, actor: Any | None, verb: str, invitations: Iterable[Invitation], **details: Any
) -> None:
    """One audit entry per invitation, written in one query."""
    actor_obj = actor if getattr(actor, "is_authenticated", False) else None
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                actor=actor_obj,
                actor_repr=actor_obj.email if actor_obj else "",
                verb=verb,
                target_type="invitations.invitation",
                target_id=str(inv.pk),
                target_repr=(inv.email or f"code #{inv.pk}")[:320],
                details=details,
            )
            for inv in invitations
        ],
        batch_size=2000,
    )


def queue_messages(invitations: Iterable[Any], *, kind: str, now: datetime) -> int:
    """Write outbox rows for the invitations (anything with ``pk``, ``email`` and
    ``send_email``) that have an address and want email, and ask the worker to deliver
    them once the transaction commits. Returns how many."""
    ids = [inv.pk for inv in invitations if inv.email and inv.send_email]
    if ids:
        when = db_datetime(now)
        insert_for_ids(
            InvitationMessage._meta.db_table,
            "invitation_id",
            ids,
            kind=kind,
            created_at=when,
            next_attempt_at=when,
            attempts=0,
            last_error="",
        )
        from portico.invitations.tasks import deliver_invitation_messages

        transaction.on_commit(lambda: deliver_invitation_messages.enqueue())
    return len(ids)


def restart_lifetime(invitation: Invitation, *, now: datetime) -> None:
    """Pending again, a new expiry, one new reminder later. The token is kept.

    Emails of the old lifetime still waiting in the outbox are cancelled: the caller
    queues the new invitation email, and the invitee gets one email, not two."""
    invitation.status = Invitation.Status.PENDING
    invitation.sent_at = now
    invitation.expires_at = now + invitation_ttl()
    invitation.reminder_sent_at = None
    invitation.delivery_failed_at = None
    invitation.delivery_error = ""
    InvitationMessage.objects.filter(
        invitation_id=invitation.pk, sent_at__isnull=True, failed_at__isnull=True
    ).update(failed_at=now, last_error="superseded: the invitation was sent again")
