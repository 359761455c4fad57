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

from collections import defaultdict
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portico.accounts.models import User
from portico.accounts.services import users_delete_unverified, users_grant_admin
from portico.core.audit import audit_many
from portico.core.bulk import (
    db_datetime,
    insert_for_ids,
    insert_rows,
    reserve_ids,
    update_objects,
)
from portico.core.errors import ApplicationError
from portico.groups.models import Group
from portico.groups.services import group_add_members
from portico.invitations import tokens
from portico.invitations.models import Invitation, InvitationBatch, InvitationMessage
from portico.invitations.services.common import (
    audit_invitations,
    cancel_waiting_messages,
    invitation_ttl,
    new_lifetime,
    queue_messages,
)
from portico.invitations.services.planning import (  # noqa: F401 (the batch API lives here)
    BatchPlan,
    InviteOptions,
    InviteRow,
    PlannedRow,
    invitation_plan_batch,
    parse_typed_emails,
)
from portico.projects.services import project_add_moderators


class StalePlan(Exception):
    """The data changed between planning and applying in a way that makes the plan
    wrong (the invitation a row merges into changed its address): plan again."""


@dataclass
class BatchResult:
    batch: InvitationBatch
    counts: dict[str, int]
    warnings: list[dict[str, Any]]
    invitation_ids: list[int]


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
    # Two admins inviting the same new address at the same moment both plan "invite";
    # the second insert then breaks the one-open-invitation-per-address constraint.
    # Planning again turns that row into a merge.
    for attempt in (1, 2):
        try:
            with transaction.atomic():
                return _create_batch_once(
                    actor=actor,
                    rows=rows,
                    options=options,
                    source=source,
                    where=where,
                    allow_codes=allow_codes,
                )
        except (IntegrityError, StalePlan) as error:
            if attempt == 2:
                raise ApplicationError(
                    "conflict",
                    _(
                        "Some of these addresses were being invited by someone else at the same "
                        "moment. Try again."
                    ),
                    status=409,
                ) from error
    raise AssertionError("the loop above returns or raises")


def _create_batch_once(
    *,
    actor: User,
    rows: list[InviteRow],
    options: InviteOptions,
    source: str,
    where: str,
    allow_codes: bool,
) -> BatchResult:
    now = timezone.now()
    plan = invitation_plan_batch(
        rows=rows, options=options, where=where, allow_codes=allow_codes, now=now
    )
    if plan.errors:
        raise ApplicationError.many(plan.errors)
    batch = InvitationBatch.objects.create(source=source, actor=actor, created_at=now)
    created = apply_plan(actor=actor, plan=plan, batch=batch, now=now).created
    counts = plan.counts()
    batch.counts = counts
    batch.save(update_fields=["counts"])
    return BatchResult(
        batch=batch, counts=counts, warnings=plan.warnings, invitation_ids=[i.pk for i in created]
    )


@dataclass
class Applied:
    """What :func:`apply_plan` did: the invitations it created and how many emails it
    queued (fewer than planned when invitations to renew were accepted or deleted
    since the plan was made)."""

    created: list[SimpleNamespace]
    emails: int


def apply_plan(
    *, actor: User, plan: BatchPlan, batch: InvitationBatch, now, audit_each: bool = True
) -> Applied:
    """Carry out a checked plan (or a chunk of one) inside the caller's transaction:
    create the new invitations, update registered users, merge and renew open
    invitations, queue the emails. ``audit_each`` False records nothing per invitation
    (an import audits itself as a whole)."""
    replaced = [p.replaces for p in plan.rows if p.replaces is not None]
    if replaced:
        users_delete_unverified(
            actor=actor, users=replaced, reason="the address was invited; the invitation proves it"
        )
    created, emails = _create_new(
        actor=actor, plan=plan, batch=batch, now=now, audit_each=audit_each
    )
    _update_users(actor=actor, plan=plan)
    emails += _merge_and_renew(actor=actor, plan=plan, batch=batch, now=now)
    return Applied(created=created, emails=emails)


_INVITATION_COLUMNS = (
    "id",
    "email",
    "first_name",
    "last_name",
    "language",
    "is_admin",
    "message",
    "inviter_id",
    "send_email",
    "batch_id",
    "token_nonce",
    "token_hash",
    "status",
    "created_at",
    "sent_at",
    "expires_at",
    "delivery_error",
)


def _create_new(
    *, actor: User, plan: BatchPlan, batch: InvitationBatch, now, audit_each: bool
) -> tuple[list[SimpleNamespace], int]:
    """Insert the new invitations and their links through the fast path (a batch may
    hold 100,000 rows). Returns light records (``pk``, ``email``, ``send_email``) and
    the number of emails queued."""
    entries = [p for p in plan.rows if p.action in ("invite", "code")]
    if not entries:
        return [], 0
    ids = reserve_ids(Invitation, len(entries))
    created_at, expires_at = db_datetime(now), db_datetime(now + invitation_ttl())
    actor_id, pending = actor.pk if actor else None, Invitation.Status.PENDING
    rows, created = [], []
    by_group: dict[int, list[int]] = defaultdict(list)
    new_tokens = tokens.new_tokens(len(entries), key=tokens.current_key())
    for pk, entry, (nonce, lookup_hash) in zip(ids, entries, new_tokens, strict=True):
        rows.append(
            (
                pk,
                entry.email,
                entry.row.first_name[:150],
                entry.row.last_name[:150],
                entry.language,
                entry.is_admin,
                entry.message,
                actor_id,
                entry.send_email,
                batch.pk,
                nonce,
                lookup_hash,
                pending,
                created_at,
                created_at,
                expires_at,
                "",
            )
        )
        for group in entry.groups:
            by_group[group.pk].append(pk)
        created.append(SimpleNamespace(pk=pk, email=entry.email, send_email=entry.send_email))
    insert_rows(Invitation._meta.db_table, _INVITATION_COLUMNS, rows)
    # Links go in one statement per group or project (a batch names a few).
    for group_id, invitation_ids in by_group.items():
        insert_for_ids(
            Invitation.groups.through._meta.db_table,
            "invitation_id",
            invitation_ids,
            group_id=group_id,
        )
    for project in plan.projects:
        insert_for_ids(
            Invitation.moderated_projects.through._meta.db_table,
            "invitation_id",
            ids,
            project_id=project.pk,
        )
    if audit_each:
        audit_invitations(
            actor=actor, verb="invitation.created", invitations=created, batch=batch.pk
        )
    emails = queue_messages(
        created, kind=InvitationMessage.Kind.INVITATION, now=now, batch_id=batch.pk
    )
    return created, emails


def _update_users(*, actor: User, plan: BatchPlan) -> None:
    """Registered users get the batch's groups and roles at once; no email. A few
    queries per group and project, whatever the number of users."""
    entries = [p for p in plan.rows if p.action == "update_user"]
    if not entries:
        return
    by_group: dict[int, tuple[Group, list[User]]] = {}
    for entry in entries:
        for group in entry.groups:
            if not group.is_smart:
                by_group.setdefault(group.pk, (group, []))[1].append(entry.user)
    for group, users in by_group.values():
        group_add_members(actor=actor, group=group, users=users)
    users_grant_admin(actor=actor, users=[entry.user for entry in entries if entry.is_admin])
    for project in plan.projects:
        project_add_moderators(actor=actor, project=project, users=[e.user for e in entries])
    audit_many(
        actor=actor,
        verb="invitation.user_updated",
        target_type=User._meta.label_lower,
        entries=(
            (
                entry.user.pk,
                str(entry.user),
                {
                    "groups": [g.name for g in entry.groups if not g.is_smart],
                    "admin": entry.is_admin,
                },
            )
            for entry in entries
        ),
        projects=[p.title for p in plan.projects],
    )


_MERGED_FIELDS = ["is_admin", "first_name", "last_name"]


def _merge_and_renew(*, actor: User, plan: BatchPlan, batch: InvitationBatch, now) -> int:
    """Pending invitations gain the batch's groups and roles (no second email); expired
    ones are renewed too and sent again. A few queries whatever the number of rows.
    Returns the number of emails queued.

    The plan may be older than this transaction (an import stores long after its
    preview), so the rows are locked and read again: an invitation accepted meanwhile is
    not reopened; its new account gets the groups and roles instead."""
    entries = [p for p in plan.rows if p.action in ("merge", "renew")]
    if not entries:
        return 0
    current = {
        invitation.pk: invitation
        for invitation in Invitation.objects.select_for_update(of=("self",))
        .select_related("accepted_user")
        # What is read or written below, no more: a chunk is 10,000 invitations.
        .only(*_MERGED_FIELDS, "email", "status", "expires_at", "message", "accepted_user")
        .filter(pk__one_of=[e.invitation.pk for e in entries])
    }
    merged, renewed, changed, now_registered = [], [], [], []
    groups: dict[int, set[int]] = defaultdict(set)
    details: dict[int, dict[str, Any]] = {}
    for entry in entries:
        invitation = current.get(entry.invitation.pk)
        if invitation is None:  # deleted meanwhile: nothing left to merge into
            continue
        if (invitation.email or "").lower() != (entry.email or "").lower():
            # Its address was changed meanwhile: the rights belong to this row's address,
            # which no longer has an open invitation. The plan must be made again.
            raise StalePlan(entry.row.position)
        if invitation.status == Invitation.Status.ACCEPTED:
            if invitation.accepted_user is not None:
                entry.action, entry.user = "update_user", invitation.accepted_user
                now_registered.append(entry)
            continue
        before = (invitation.is_admin, invitation.first_name, invitation.last_name)
        invitation.is_admin = invitation.is_admin or entry.is_admin
        invitation.first_name = invitation.first_name or entry.row.first_name[:150]
        invitation.last_name = invitation.last_name or entry.row.last_name[:150]
        if invitation.effective_status(now) == Invitation.Status.EXPIRED:
            for field, value in new_lifetime(now).items():
                setattr(invitation, field, value)
            invitation.language = entry.language
            invitation.message = entry.message or invitation.message
            invitation.send_email = entry.send_email
            invitation.inviter = actor
            renewed.append(invitation)
        else:
            merged.append(invitation)
            if before != (invitation.is_admin, invitation.first_name, invitation.last_name):
                changed.append(invitation)
        for group in entry.groups:
            groups[group.pk].add(invitation.pk)
        details[invitation.pk] = {"groups": [g.name for g in entry.groups], "admin": entry.is_admin}
    # The emails of the old lifetime still waiting are replaced by the one queued below.
    cancel_waiting_messages([i.pk for i in renewed], now=now)
    update_objects(changed, _MERGED_FIELDS)
    lifetime = [*new_lifetime(now), "language", "message", "send_email", "inviter"]
    update_objects(renewed, [*_MERGED_FIELDS, *lifetime])
    touched = [i.pk for i in (*merged, *renewed)]
    for group_id, ids in groups.items():
        _link_missing(Invitation.groups.through, "group_id", group_id, sorted(ids))
    for project in plan.projects:
        _link_missing(Invitation.moderated_projects.through, "project_id", project.pk, touched)
    projects = [p.title for p in plan.projects]
    for verb, invitations in (("invitation.merged", merged), ("invitation.renewed", renewed)):
        audit_invitations(
            actor=actor,
            verb=verb,
            invitations=invitations,
            details_of=lambda invitation: details[invitation.pk],
            projects=projects,
        )
    if now_registered:
        _update_users(
            actor=actor,
            plan=BatchPlan(rows=now_registered, projects=plan.projects, errors=[], warnings=[]),
        )
    return queue_messages(
        renewed, kind=InvitationMessage.Kind.INVITATION, now=now, batch_id=batch.pk
    )


def _link_missing(through: Any, column: str, value: int, invitation_ids: list[int]) -> None:
    """Link the invitations to one group or project (``column`` = ``value``) through the
    many-to-many table ``through``, skipping the links that exist: two queries."""
    if not invitation_ids:
        return
    linked = set(
        through.objects.filter(
            **{column: value, "invitation_id__one_of": invitation_ids}
        ).values_list("invitation_id", flat=True)
    )
    insert_rows(
        through._meta.db_table,
        ("invitation_id", column),
        [(pk, value) for pk in invitation_ids if pk not in linked],
    )
