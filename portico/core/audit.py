"""The audit log helpers: every service that changes roles, groups, projects or
invitations records what it did through :func:`audit` (one entry) or
:func:`audit_many` (one entry per target, in one statement)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django.db import models
from django.utils import timezone

from portico.core.bulk import db_datetime, insert_rows
from portico.core.models import AuditEvent


def _actor(actor: Any | None) -> Any | None:
    """The user to record: anonymous visitors and the system are recorded as nobody."""
    return actor if getattr(actor, "is_authenticated", False) else None


def audit(
    *, actor: Any | None, verb: str, target: models.Model | None = None, **details: Any
) -> AuditEvent:
    """Record that ``actor`` did ``verb`` to ``target``, inside the caller's transaction,
    so that the entry exists exactly when the change does."""
    actor_obj = _actor(actor)
    return AuditEvent.objects.create(
        actor=actor_obj,
        actor_repr=getattr(actor_obj, "email", "") if actor_obj else "",
        verb=verb,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_repr=str(target)[:320] if target is not None else "",
        details=details,
    )


def audit_many(
    *,
    actor: Any | None,
    verb: str,
    target_type: str,
    entries: Iterable[tuple[Any, str, dict[str, Any]]],
    **details: Any,
) -> None:
    """Record that ``actor`` did ``verb`` once per entry, each entry a ``(target_id,
    target_repr, entry_details)`` triple on a target of ``target_type`` (the model's
    ``app_label.model_name``), all written in one statement through the database's
    fastest path, in the caller's transaction. Every entry carries ``details`` plus its
    own ``entry_details``. Bulk services use this instead of one query per entry."""
    actor_obj = _actor(actor)
    actor_id, actor_repr = (actor_obj.pk, actor_obj.email) if actor_obj else (None, "")
    when = db_datetime(timezone.now())
    shared = json.dumps(details)
    rows = [
        (
            actor_id,
            actor_repr,
            verb,
            target_type,
            str(target_id),
            target_repr[:320],
            json.dumps({**details, **own}) if own else shared,
            when,
        )
        for target_id, target_repr, own in entries
    ]
    if rows:
        insert_rows(AuditEvent._meta.db_table, _COLUMNS, rows)


_COLUMNS = (
    "actor_id",
    "actor_repr",
    "verb",
    "target_type",
    "target_id",
    "target_repr",
    "details",
    "created_at",
)
