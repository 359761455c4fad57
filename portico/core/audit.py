"""The audit log helper: every service that changes roles, groups, projects or
invitations records what it did through :func:`audit`."""

from __future__ import annotations

from typing import Any

from django.db import models

from portico.core.models import AuditEvent


def audit(
    *, actor: Any | None, verb: str, target: models.Model | None = None, **details: Any
) -> AuditEvent:
    """Record that ``actor`` did ``verb`` to ``target``, inside the caller's transaction,
    so that the entry exists exactly when the change does."""
    actor_obj = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEvent.objects.create(
        actor=actor_obj,
        actor_repr=getattr(actor_obj, "email", "") if actor_obj else "",
        verb=verb,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_repr=str(target)[:320] if target is not None else "",
        details=details,
    )
