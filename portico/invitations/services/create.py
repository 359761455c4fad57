"""Creating invitations in batches: typed addresses, imported files, codes.

The batch is checked completely before anything is written (:func:`invitation_plan_batch`
writes nothing, so it also serves as the preview). If any row is wrong, nothing is
stored or sent and every problem is reported at once, each with a stable code, its
position (typed lists) or row (spreadsheets) and the offending value.

Rows that are fine but special are not errors: a registered user's address gets the
batch's groups and roles at once (no invitation, no email); an address with a pending
invitation is merged into it (no second email); an expired invitation is renewed and
sent again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from portico.accounts.models import User
from portico.accounts.services import user_set_admin
from portico.core.audit import audit
from portico.core.errors import ApplicationError
from portico.groups.models import Group
from portico.groups.services import group_add_members
from portico.invitations import tokens
from portico.invitations.models import Invitation, InvitationBatch, InvitationMessage
from portico.invitations.services.common import (
    audit_invitations,
    invitation_ttl,
    queue_messages,
    restart_lifetime,
)
from portico.invitations.services.planning import (  # noqa: F401 (the batch API lives here)
    BatchPlan,
    InviteOptions,
    InviteRow,
    PlannedRow,
    invitation_plan_batch,
    parse_typed_emails,
)
from portico.projects.services import project_add_moderator


@dataclass
class BatchResult:
    batch: InvitationBatch
    counts: dict[str, int]
    warnings: list[dict[str, Any]]
    invitation_ids: list[int]


@transaction.atomic
def invitation_create_batch(
    *,
    actor: User,
    rows: list[InviteRow],
    options: InviteOptions,
    source: str = InvitationBatch.Source.TYPED,
    where: str = "position",
    allow_codes: bool = False,
) -> BatchResult:
    """Check and apply a batch, all or nothing.

    Raises ApplicationError carrying every problem (422) when any row is wrong; then
    nothing is stored and nothing is sent. Otherwise creates, merges and renews
    invitations, updates registered users, audits all of it and queues the emails
    (delivered by the worker after commit). Returns the counts per outcome.
    """
    now = timezone.now()
    plan = invitation_plan_batch(
        rows=rows, options=options, where=where, allow_codes=allow_codes, now=now
    )
    if plan.errors:
        raise ApplicationError.many(plan.errors)
    batch = InvitationBatch.objects.create(source=source, actor=actor, created_at=now)
    created = apply_plan(actor=actor, plan=plan, batch=batch, now=now)
    counts = plan.counts()
    batch.counts = counts
    batch.save(update_fields=["counts"])
    return BatchResult(
        batch=batch, counts=counts, warnings=plan.warnings, invitation_ids=[i.pk for i in created]
    )


def apply_plan(
    *, actor: User, plan: BatchPlan, batch: InvitationBatch, now, audit_each: bool = True
) -> list[Invitation]:
    """Carry out a checked plan (or a chunk of one) inside the caller's transaction:
    create the new invitations, update registered users, merge and renew open
    invitations, queue the emails. Returns the invitations created. ``audit_each``
    False records nothing per invitation (an import audits itself as a whole)."""
    created = _create_new(actor=actor, plan=plan, batch=batch, now=now, audit_each=audit_each)
    _update_users(actor=actor, plan=plan)
    _merge_and_renew(actor=actor, plan=plan, now=now)
    return created


def _create_new(
    *, actor: User, plan: BatchPlan, batch: InvitationBatch, now, audit_each: bool
) -> list[Invitation]:
    entries = [p for p in plan.rows if p.action in ("invite", "code")]
    expires_at = now + invitation_ttl()
    invitations = []
    for entry in entries:
        nonce = tokens.new_nonce()
        invitations.append(
            Invitation(
                email=entry.email,
                first_name=entry.row.first_name[:150],
                last_name=entry.row.last_name[:150],
                language=entry.language,
                is_admin=entry.is_admin,
                message=entry.message,
                inviter=actor,
                send_email=entry.send_email,
                batch=batch,
                token_nonce=nonce,
                token_hash=tokens.lookup_hash(tokens.token_for_nonce(nonce)),
                created_at=now,
                sent_at=now,
                expires_at=expires_at,
            )
        )
    # PostgreSQL and SQLite both return the primary keys of bulk-created rows.
    Invitation.objects.bulk_create(invitations, batch_size=2000)
    group_links, project_links = [], []
    for invitation, entry in zip(invitations, entries, strict=True):
        group_links += [
            Invitation.groups.through(invitation_id=invitation.pk, group_id=g.pk)
            for g in entry.groups
        ]
        project_links += [
            Invitation.moderated_projects.through(invitation_id=invitation.pk, project_id=p.pk)
            for p in plan.projects
        ]
    Invitation.groups.through.objects.bulk_create(group_links, batch_size=5000)
    Invitation.moderated_projects.through.objects.bulk_create(project_links, batch_size=5000)
    if audit_each:
        audit_invitations(
            actor=actor, verb="invitation.created", invitations=invitations, batch=batch.pk
        )
    queue_messages(invitations, kind=InvitationMessage.Kind.INVITATION, now=now)
    return invitations


def _update_users(*, actor: User, plan: BatchPlan) -> None:
    """Registered users get the batch's groups and roles at once; no email."""
    entries = [p for p in plan.rows if p.action == "update_user"]
    by_group: dict[int, tuple[Group, list[User]]] = {}
    for entry in entries:
        for group in entry.groups:
            if not group.is_smart:
                by_group.setdefault(group.pk, (group, []))[1].append(entry.user)
    for group, users in by_group.values():
        group_add_members(actor=actor, group=group, users=users)
    for entry in entries:
        user = entry.user
        if entry.is_admin and not user.is_admin:
            user_set_admin(actor=actor, user=user, is_admin=True)
        for project in plan.projects:
            project_add_moderator(actor=actor, project=project, user=user)
        audit(
            actor=actor,
            verb="invitation.user_updated",
            target=user,
            groups=[g.name for g in entry.groups if not g.is_smart],
            admin=entry.is_admin,
            projects=[p.title for p in plan.projects],
        )


def _merge_and_renew(*, actor: User, plan: BatchPlan, now) -> None:
    """Pending invitations gain the batch's groups and roles (no second email); expired
    ones are renewed too and sent again."""
    entries = [p for p in plan.rows if p.action in ("merge", "renew")]
    renewed = []
    for entry in entries:
        invitation = entry.invitation
        invitation.is_admin = invitation.is_admin or entry.is_admin
        invitation.first_name = invitation.first_name or entry.row.first_name[:150]
        invitation.last_name = invitation.last_name or entry.row.last_name[:150]
        if entry.action == "renew":
            restart_lifetime(invitation, now=now)
            invitation.language = entry.language
            invitation.message = entry.message or invitation.message
            invitation.send_email = entry.send_email
            invitation.inviter = actor
            renewed.append(invitation)
        invitation.save()
        invitation.groups.add(*entry.groups)
        invitation.moderated_projects.add(*plan.projects)
        audit(
            actor=actor,
            verb="invitation.renewed" if entry.action == "renew" else "invitation.merged",
            target=invitation,
            groups=[g.name for g in entry.groups],
            admin=entry.is_admin,
            projects=[p.title for p in plan.projects],
        )
    queue_messages(renewed, kind=InvitationMessage.Kind.INVITATION, now=now)
