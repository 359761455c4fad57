"""Background tasks of the invitations: thin, each calls one service."""

from __future__ import annotations

from django.tasks import task
from django.utils import timezone

from portico.invitations.services.jobs import invitation_messages_deliver_due


@task()
def deliver_invitation_messages() -> int:
    """Send every due email of the outbox. Safe to run any number of times at once."""
    return invitation_messages_deliver_due(now=timezone.now())
