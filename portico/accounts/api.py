"""``/api/v1/users``: what the admin pages do with users, for integrators."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema, Status

from portico.accounts.models import ApiToken, User
from portico.accounts.services import (
    api_token_create,
    api_token_revoke,
    user_set_active,
    user_set_admin,
)
from portico.core.api import require_admin
from portico.groups.selectors import group_ids_for_user

# Negative offsets are no slices, and databases store 64-bit integers at most.
OFFSET = Query(0, ge=0, le=2**31 - 1)

router = Router(tags=["users"])


class UserOut(Schema):
    id: int
    email: str
    first_name: str
    last_name: str
    language: str
    is_admin: bool
    is_active: bool
    email_verified: bool
    date_joined: datetime


class UserDetailOut(UserOut):
    group_ids: list[int]
    moderated_project_ids: list[int]


class UserPage(Schema):
    count: int
    items: list[UserOut]


class UserPatch(Schema):
    is_admin: bool | None = None
    is_active: bool | None = None


class TokenIn(Schema):
    name: str


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class TokenCreatedOut(TokenOut):
    token: str


def _detail(user: User) -> dict:
    return {
        **UserOut.from_orm(user).dict(),
        "group_ids": sorted(group_ids_for_user(user)),
        "moderated_project_ids": sorted(user.moderated_projects.values_list("pk", flat=True)),
    }


@router.get("", response=UserPage, summary="List users")
def list_users(
    request: HttpRequest, q: str = "", role: str = "", limit: int = 50, offset: int = OFFSET
):
    """Search by name or email; ``role`` is ``admin`` or ``moderator``."""
    require_admin(request)
    users = User.objects.order_by("email")
    if q:
        users = users.filter(
            Q(email__icontains=q) | Q(first_name__icontains=q) | Q(last_name__icontains=q)
        )
    if role == "admin":
        users = users.filter(is_admin=True)
    elif role == "moderator":
        users = users.filter(moderated_projects__isnull=False).distinct()
    limit = max(1, min(limit, 500))
    return {"count": users.count(), "items": list(users[offset : offset + limit])}


@router.get("/{int:user_id}", response=UserDetailOut, summary="Get a user")
def get_user(request: HttpRequest, user_id: int):
    require_admin(request)
    return _detail(get_object_or_404(User, pk=user_id))


@router.patch("/{int:user_id}", response=UserDetailOut, summary="Change admin rights or block")
def patch_user(request: HttpRequest, user_id: int, payload: UserPatch):
    actor = require_admin(request)
    user = get_object_or_404(User, pk=user_id)
    if payload.is_admin is not None:
        user = user_set_admin(actor=actor, user=user, is_admin=payload.is_admin)
    if payload.is_active is not None:
        user = user_set_active(actor=actor, user=user, is_active=payload.is_active)
    return _detail(user)


@router.get("/{int:user_id}/tokens", response=list[TokenOut], summary="List a user's API tokens")
def list_tokens(request: HttpRequest, user_id: int):
    require_admin(request)
    return list(get_object_or_404(User, pk=user_id).api_tokens.all())


@router.post(
    "/{int:user_id}/tokens",
    response={201: TokenCreatedOut},
    summary="Create an API token (the secret is in this answer only)",
)
def create_token(request: HttpRequest, user_id: int, payload: TokenIn):
    actor = require_admin(request)
    token, raw = api_token_create(
        actor=actor, user=get_object_or_404(User, pk=user_id), name=payload.name
    )
    return Status(201, {**TokenOut.from_orm(token).dict(), "token": raw})


@router.delete(
    "/{int:user_id}/tokens/{int:token_id}", response=TokenOut, summary="Revoke an API token"
)
def revoke_token(request: HttpRequest, user_id: int, token_id: int):
    actor = require_admin(request)
    token = get_object_or_404(ApiToken, pk=token_id, user_id=user_id)
    return api_token_revoke(actor=actor, token_id=token.pk)
