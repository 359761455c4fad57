"""Many invitations at once for list, paging and query-count tests, written directly
(the way the batch service writes them: one bulk insert, tokens from nonces)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from portico.invitations import tokens
from portico.invitations.models import Invitation
from portico.invitations.services.common import invitation_ttl


def make_invitations(
    count: int,
    *,
    inviter=None,
    prefix: str = "person",
    domain: str = "mail.example",
    start: datetime | None = None,
    **fields,
) -> list[Invitation]:
    """``count`` pending invitations, ``prefix00000@domain`` and up, sent one minute
    apart (the last one most recently), named ``First00000 Last00000`` and up."""
    start = start or timezone.now() - timedelta(minutes=count)
    invitations = []
    for i in range(count):
        nonce = tokens.new_nonce()
        sent = start + timedelta(minutes=i)
        values = {
            "email": f"{prefix}{i:05d}@{domain}",
            "first_name": f"First{i:05d}",
            "last_name": f"Last{i:05d}",
            "language": "en",
            "inviter": inviter,
            "token_nonce": nonce,
            "token_hash": tokens.lookup_hash(tokens.token_for_nonce(nonce)),
            "created_at": sent,
            "sent_at": sent,
            "expires_at": sent + invitation_ttl(),
            **fields,
        }
        invitations.append(Invitation(**values))
    return Invitation.objects.bulk_create(invitations, batch_size=1000)
