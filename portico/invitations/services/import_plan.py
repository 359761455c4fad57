"""An import's checked plan, kept from the preview until the rows are stored.

The check plans the batch once (:func:`invitation_plan_batch` checks every row) and
keeps the outcome in ``InvitationImport.plan``, one list per row::

    [row, action, email, first_name, last_name, language, is_admin, send_email,
     group_ids, message, target_id, replaces_id]

``group_ids`` (in the row's order) and ``message`` are None where the row takes the
batch's; ``target_id``
is the registered user (``update_user``) or the invitation (``merge``, ``renew``,
``existing``) the row applies to; ``replaces_id`` is an unverified account that the
invitation replaces.

Storing (:func:`replan_checked`) rebuilds the plan from these lists without checking
each row again: the values of a row cannot change once checked. What can change is
what the plan depended on: groups and projects deleted, people registered or invited
meanwhile, invitations accepted, expired or deleted. That is verified in a handful of
queries; if any of it changed, the import is planned again from its file.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from portico.accounts.models import User
from portico.accounts.selectors import users_by_emails
from portico.groups.models import Group
from portico.invitations.messages import sanitize_message
from portico.invitations.models import Invitation
from portico.invitations.services.planning import (
    BatchPlan,
    InviteOptions,
    InviteRow,
    PlannedRow,
    open_invitations_by_address,
)
from portico.projects.models import Project

# Positions in a checked row.
ROW, ACTION, EMAIL, FIRST, LAST, LANGUAGE, ADMIN, SEND, GROUPS, MESSAGE, TARGET, REPLACES = range(
    12
)


def checked_rows(plan: BatchPlan, options: InviteOptions) -> list[list[Any]]:
    """The plan, compactly (see the module's docstring)."""
    batch_message = sanitize_message(options.message)
    rows = []
    for p in plan.rows:
        target = p.user or p.invitation
        rows.append(
            [
                p.row.position,
                p.action,
                p.email,
                p.row.first_name,
                p.row.last_name,
                p.language,
                p.is_admin,
                p.send_email,
                None if p.row.groups is None else [g.pk for g in p.groups],
                None if p.message == batch_message else p.message,
                target.pk if target is not None else None,
                p.replaces.pk if p.replaces is not None else None,
            ]
        )
    return rows


def preview_rows(rows: list[list[Any]], options: InviteOptions) -> list[list[Any]]:
    """Checked rows as the preview shows them:
    ``[row, action, email, first_name, last_name, language, groups, admin]``, the
    groups as names: what each row will be once stored, not what its cells say. A row
    merged into a pending invitation keeps that invitation's names (filling in blanks),
    language and admin rights (gaining them, never losing them) and adds its groups; a
    renewed one takes the row's language; a registered user keeps their names and
    language. A few queries for the page of rows shown."""
    ids = set(options.group_ids)
    for row in rows:
        ids.update(row[GROUPS] or ())
    names = dict(Group.objects.filter(pk__in=ids).values_list("pk", "name"))
    batch = [name for pk, name in names.items() if pk in options.group_ids]
    invitations = Invitation.objects.prefetch_related("groups").in_bulk(
        [r[TARGET] for r in rows if r[ACTION] in ("merge", "renew")]
    )
    users = User.objects.in_bulk([r[TARGET] for r in rows if r[ACTION] == "update_user"])

    def shown(r: list[Any]) -> list[Any]:
        added = batch if r[GROUPS] is None else [names.get(i, "?") for i in r[GROUPS]]
        first, last, language, admin = r[FIRST], r[LAST], r[LANGUAGE], r[ADMIN]
        groups = added
        target = (invitations if r[ACTION] != "update_user" else users).get(r[TARGET])
        if target is not None:
            first, last = target.first_name or first, target.last_name or last
            admin = target.is_admin or admin
            if r[ACTION] != "renew":
                language = target.language
            if r[ACTION] != "update_user":
                groups = list(dict.fromkeys([*(g.name for g in target.groups.all()), *added]))
        email = r[EMAIL] or ""
        return [r[ROW], r[ACTION], email, first, last, language, ", ".join(groups), admin]

    return [shown(r) for r in rows]


def replan_checked(
    rows: list[list[Any]], options: InviteOptions, *, now: datetime, start: int = 0
) -> BatchPlan | None:
    """The plan of checked rows, or None when what it depended on has changed since
    the check (then the caller plans again from the file). Rows before ``start`` are
    stored already: they are in the plan (positions do not move) but not verified.
    Queries: a handful, whatever the number of rows."""
    group_ids = set(options.group_ids)
    for row in rows:
        group_ids.update(row[GROUPS] or ())
    groups = Group.objects.in_bulk(group_ids)
    if len(groups) != len(group_ids):
        return None  # a group was deleted
    projects = list(Project.objects.filter(pk__in=options.project_ids)) if options.moderator else []
    if len(projects) != (len(set(options.project_ids)) if options.moderator else 0):
        return None

    facts = _current_facts(rows[start:], now=now)
    if facts is None:
        return None
    users, invitations = facts

    batch_groups = [groups[i] for i in sorted(set(options.group_ids))]
    shared: dict[tuple[int, ...], list[Group]] = {}
    batch_message = sanitize_message(options.message)
    planned = []
    for (
        position,
        action,
        email,
        first,
        last,
        language,
        admin,
        send,
        ids,
        message,
        target,
        replaces,
    ) in rows:
        if ids is None:
            row_groups = batch_groups
        else:
            key = tuple(ids)
            row_groups = shared.get(key) or shared.setdefault(key, [groups[i] for i in key])
        entry = PlannedRow(
            InviteRow(position, email, first, last),
            action,
            email,
            language,
            admin,
            row_groups,
            send,
            batch_message if message is None else message,
        )
        if target is not None:
            if action == "update_user":
                entry.user = users.get(target)
            else:
                entry.invitation = invitations.get(target)
        if replaces is not None:
            entry.replaces = users.get(replaces)
        planned.append(entry)
    return BatchPlan(rows=planned, projects=projects, errors=[], warnings=[])


def _current_facts(
    rows: list[list[Any]], *, now: datetime
) -> tuple[dict[int, Any], dict[int, Invitation]] | None:
    """The registered users and invitations the rows apply to, by id, if every row
    would still be planned as it was; else None.

    For every address the check saw, what it found then (a verified user, an open
    invitation and whether it had expired, an unverified account) must be what is
    found now; rows named by token need their invitation still there."""
    addresses = [r[EMAIL].lower() for r in rows if r[EMAIL]]
    expected: dict[str, tuple] = {}
    for r in rows:
        special = r[ACTION] != "invite" or r[REPLACES] is not None
        if r[EMAIL] and special and r[ACTION] != "existing":
            expected[r[EMAIL].lower()] = (r[ACTION], r[TARGET], r[REPLACES])
    found: dict[str, tuple] = {}
    users_by_id, invitations_by_id = {}, {}
    registered = users_by_emails(addresses)
    open_invitations = open_invitations_by_address(addresses)
    for address in registered.keys() | open_invitations.keys():
        user, invitation = registered.get(address), open_invitations.get(address)
        if user is not None:
            users_by_id[user.pk] = user
        if invitation is not None:
            invitations_by_id[invitation.pk] = invitation
        if user is not None and user.email_verified:
            found[address] = ("update_user", user.pk, None)
        elif invitation is not None:
            status = invitation.effective_status(now)
            action = "renew" if status == Invitation.Status.EXPIRED else "merge"
            found[address] = (action, invitation.pk, user.pk if user else None)
        else:
            found[address] = ("invite", None, user.pk)
    # Rows named by the token of a known invitation (a re-imported export).
    known = [r[TARGET] for r in rows if r[ACTION] == "existing"]
    if known:
        invitations_by_id.update(Invitation.objects.in_bulk(known))
        if not set(known) <= invitations_by_id.keys():
            return None  # deleted meanwhile
        for r in rows:
            if r[ACTION] == "existing" and r[EMAIL]:
                found.pop(r[EMAIL].lower(), None)
    if found != expected:
        return None
    return users_by_id, invitations_by_id
