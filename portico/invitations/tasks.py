"""Background tasks of the invitations: thin, each calls one service."""

from __future__ import annotations

from django.tasks import task
from django.utils import timezone

from portico.invitations.services.jobs import invitation_messages_deliver_due


@task()
def deliver_invitation_messages() -> int:
    """Send every due email of the outbox. Safe to run any number of times at once."""
    return invitation_messages_deliver_due(now=timezone.now())


@task()
def check_invitation_import(import_id: int) -> str:
    """Check an uploaded file and record its preview or its errors."""
    from portico.invitations.services.imports import invitation_import_check

    return invitation_import_check(import_id=import_id, now=timezone.now()).status


@task()
def store_invitation_import(import_id: int) -> str:
    """Store a confirmed import in chunks and queue its emails."""
    from portico.invitations.services.imports import invitation_import_store

    return invitation_import_store(import_id=import_id, now=timezone.now()).status
