"""``/api/v1/groups``: groups, rules and manual memberships."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status

from portico.accounts.models import User
from portico.core.api import require_admin
from portico.core.errors import ApplicationError
from portico.groups.models import Group
from portico.groups.selectors import group_list, group_members
from portico.groups.services import (
    group_add_members,
    group_create,
    group_delete,
    group_remove_members,
    group_update,
)

# Negative offsets are no slices, and databases store 64-bit integers at most.
OFFSET = Query(0, ge=0, le=2**31 - 1)

router = Router(tags=["groups"])


class Rule(Schema):
    field: str
    value: str


class GroupOut(Schema):
    id: int
    name: str
    description: str
    kind: str
    rules: list[Rule]
    member_count: int
    created_at: datetime


class GroupIn(Schema):
    name: str
    kind: str = "manual"
    description: str = ""
    rules: list[Rule] = []


class GroupPatch(Schema):
    name: str | None = None
    description: str | None = None
    rules: list[Rule] | None = None


class MemberOut(Schema):
    id: int
    email: str
    first_name: str
    last_name: str


class MembersIn(Schema):
    user_ids: list[int]


class MembersChanged(Schema):
    changed: int


def _out(group: Group) -> dict:
    return {
        "id": group.pk,
        "name": group.name,
        "description": group.description,
        "kind": group.kind,
        "rules": group.rules,
        "member_count": group_members(group).count(),
        "created_at": group.created_at,
    }


def _users(user_ids: list[int]) -> list[User]:
    users = list(User.objects.filter(pk__in=user_ids))
    missing = sorted(set(user_ids) - {u.pk for u in users})
    if missing:
        raise ApplicationError("not_found", _("Unknown user ids."), status=404, ids=missing)
    return users


@router.get("", response=list[GroupOut], summary="List groups")
def list_groups(request: HttpRequest, q: str = ""):
    require_admin(request)
    return [_out(g) for g in group_list(search=q)]


@router.post("", response={201: GroupOut}, summary="Create a manual or smart group")
def create_group(request: HttpRequest, payload: GroupIn):
    actor = require_admin(request)
    group = group_create(
        actor=actor,
        name=payload.name,
        kind=payload.kind,
        description=payload.description,
        rules=[r.dict() for r in payload.rules],
    )
    return Status(201, _out(group))


@router.get("/{int:group_id}", response=GroupOut, summary="Get a group")
def get_group(request: HttpRequest, group_id: int):
    require_admin(request)
    return _out(get_object_or_404(Group, pk=group_id))


@router.patch("/{int:group_id}", response=GroupOut, summary="Rename, describe or change rules")
def patch_group(request: HttpRequest, group_id: int, payload: GroupPatch):
    actor = require_admin(request)
    group = group_update(
        actor=actor,
        group=get_object_or_404(Group, pk=group_id),
        name=payload.name,
        description=payload.description,
        rules=[r.dict() for r in payload.rules] if payload.rules is not None else None,
    )
    return _out(group)


@router.delete("/{int:group_id}", response={204: None}, summary="Delete a group")
def delete_group(request: HttpRequest, group_id: int):
    actor = require_admin(request)
    group_delete(actor=actor, group=get_object_or_404(Group, pk=group_id))
    return Status(204, None)


@router.get("/{int:group_id}/members", response=list[MemberOut], summary="List members")
def list_members(request: HttpRequest, group_id: int, limit: int = 100, offset: int = OFFSET):
    require_admin(request)
    members = group_members(get_object_or_404(Group, pk=group_id)).order_by("email")
    return list(members[offset : offset + max(1, min(limit, 1000))])


@router.post(
    "/{int:group_id}/members", response=MembersChanged, summary="Add users to a manual group"
)
def add_members(request: HttpRequest, group_id: int, payload: MembersIn):
    actor = require_admin(request)
    group = get_object_or_404(Group, pk=group_id)
    return {"changed": group_add_members(actor=actor, group=group, users=_users(payload.user_ids))}


@router.delete(
    "/{int:group_id}/members/{int:user_id}",
    response=MembersChanged,
    summary="Remove a user from a manual group",
)
def remove_member(request: HttpRequest, group_id: int, user_id: int):
    actor = require_admin(request)
    group = get_object_or_404(Group, pk=group_id)
    return {"changed": group_remove_members(actor=actor, group=group, users=_users([user_id]))}
