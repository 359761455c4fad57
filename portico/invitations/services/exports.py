"""Exports of the invitation list: audited, because they carry working tokens."""

from __future__ import annotations

from django.db.models import QuerySet

from portico.accounts.models import User
from portico.core.audit import audit
from portico.invitations.models import Invitation


def invitation_export_record(
    *,
    actor: User,
    invitations: QuerySet[Invitation],
    file_format: str,
    search: str,
    status: str,
    batch_id: int | None = None,
) -> int:
    """Record who exported which invitations (filter, format, count) in the audit log.
    Returns the count. The file itself is streamed by the caller."""
    count = invitations.count()
    audit(
        actor=actor,
        verb="invitation.exported",
        target=None,
        format=file_format,
        search=search,
        status=status,
        count=count,
        **({"batch": batch_id} if batch_id is not None else {}),
    )
    return count


def invitation_tokens_disclosed(*, actor: User, count: int, **details: object) -> None:
    """Record that ``actor`` was shown ``count`` working tokens through the API (a list
    or one invitation with ``include_tokens``): as good as an export."""
    audit(actor=actor, verb="invitation.tokens_listed", target=None, count=count, **details)
