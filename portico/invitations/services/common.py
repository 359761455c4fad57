"""Pieces shared by the invitation services: lifetimes, audit in bulk, the outbox."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction

from portico.core.audit import audit_many
from portico.core.bulk import db_datetime, insert_for_ids
from portico.core.durations import parse_duration
from portico.invitations.models import Invitation, InvitationMessage


def invitation_ttl() -> timedelta:
    return parse_duration(settings.PORTICO_INVITATION_TTL)


def reminder_delay() -> timedelta:
    return parse_duration(settings.PORTICO_REMINDER_DELAY)


def audit_invitations(
    *,
    actor: Any | None,
    verb: str,
    invitations: Iterable[Any],
    details_of: Callable[[Any], dict[str, Any]] | None = None,
    **details: Any,
) -> None:
    """One audit entry per invitation (anything with ``pk`` and ``email``), in one
    statement (:func:`portico.core.audit.audit_many`)."""
    audit_many(
        actor=actor,
        verb=verb,
        target_type="invitations.invitation",
        entries=(
            (inv.pk, inv.email or f"code #{inv.pk}", details_of(inv) if details_of else {})
            for inv in invitations
        ),
        **details,
    )


def queue_messages(
    invitations: Iterable[Any], *, kind: str, now: datetime, batch_id: int | None = None
) -> int:
    """Write outbox rows for the invitations (anything with ``pk``, ``email`` and
    ``send_email``) that have an address and want email, and ask the worker to deliver
    them once the transaction commits. ``batch_id``: the batch being stored, whose
    progress counts these emails. Returns how many."""
    ids = [inv.pk for inv in invitations if inv.email and inv.send_email]
    if ids:
        when = db_datetime(now)
        insert_for_ids(
            InvitationMessage._meta.db_table,
            "invitation_id",
            ids,
            kind=kind,
            batch_id=batch_id,
            created_at=when,
            next_attempt_at=when,
            attempts=0,
            last_error="",
        )
        from portico.invitations.tasks import deliver_invitation_messages

        transaction.on_commit(lambda: deliver_invitation_messages.enqueue())
    return len(ids)


def new_lifetime(now: datetime) -> dict[str, Any]:
    """The fields of an invitation whose lifetime starts ``now``: pending, a new expiry,
    one new reminder later, no delivery failure."""
    return {
        "status": Invitation.Status.PENDING,
        "sent_at": now,
        "expires_at": now + invitation_ttl(),
        "reminder_sent_at": None,
        "delivery_failed_at": None,
        "delivery_error": "",
    }


def cancel_waiting_messages(invitation_ids: Collection[int], *, now: datetime) -> None:
    """Cancel the emails of these invitations still waiting in the outbox: the caller
    queues the email that replaces them, and the invitee gets one email, not two."""
    InvitationMessage.objects.filter(
        invitation_id__one_of=invitation_ids, sent_at__isnull=True, failed_at__isnull=True
    ).update(failed_at=now, last_error="superseded: the invitation was sent again")


def restart_lifetime(invitation: Invitation, *, now: datetime) -> None:
    """Pending again, a new expiry, one new reminder later (:func:`new_lifetime`). The
    token is kept. Emails of the old lifetime still waiting in the outbox are cancelled
    (:func:`cancel_waiting_messages`). The caller saves the invitation."""
    for field, value in new_lifetime(now).items():
        setattr(invitation, field, value)
    cancel_waiting_messages([invitation.pk], now=now)
