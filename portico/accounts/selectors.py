"""Reads of accounts."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models.functions import Lower

from portico.accounts.models import User
from portico.core.bulk import values_subquery


def users_by_emails(emails: Iterable[str]) -> dict[str, User]:
    """Registered users for the given addresses, keyed by lower-cased address, in one
    query (whatever the case they were typed in, however many they are)."""
    wanted = sorted({e.strip().lower() for e in emails if e and e.strip()})
    if not wanted:
        return {}
    users = User.objects.annotate(email_lower=Lower("email")).filter(
        email_lower__in=values_subquery(wanted)
    )
    return {user.email.lower(): user for user in users}
