"""``/api/v1/projects``: projects and who may see them.

Reading is open to everyone and answers with the projects open to the caller (anonymous
callers see public projects); writing is for admins, and for moderators on the title and
description of their own projects.
"""

from __future__ import annotations

from datetime import datetime

from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status

from portico.accounts.models import User
from portico.core.api import AUTH, require_admin
from portico.core.errors import ApplicationError
from portico.groups.models import Group
from portico.projects.models import Project
from portico.projects.selectors import project_is_visible_to, project_list_visible_to
from portico.projects.services import project_create, project_delete, project_update

router = Router(tags=["projects"])


class _Anonymous:
    """Lets read operations answer anonymous callers with the public projects. A caller
    who sent credentials that did not authenticate is refused (401), not treated as
    anonymous: an integrator with a revoked token must not silently see less."""

    def __call__(self, request: HttpRequest):
        if "Authorization" in request.headers:
            return None
        return request.user if getattr(request, "user", None) else True


READ_AUTH = [*AUTH, _Anonymous()]


class ProjectOut(Schema):
    id: int
    title: str
    description: str
    visibility: str
    group_ids: list[int]
    moderator_ids: list[int]
    created_at: datetime
    updated_at: datetime


class ProjectIn(Schema):
    title: str
    description: str = ""
    visibility: str = Project.Visibility.EVERYONE
    group_ids: list[int] = []
    moderator_ids: list[int] = []


class ProjectPatch(Schema):
    title: str | None = None
    description: str | None = None
    visibility: str | None = None
    group_ids: list[int] | None = None
    moderator_ids: list[int] | None = None


def _out(project: Project) -> dict:
    return {
        "id": project.pk,
        "title": project.title,
        "description": project.description,
        "visibility": project.visibility,
        "group_ids": sorted(g.pk for g in project.groups.all()),
        "moderator_ids": sorted(m.pk for m in project.moderators.all()),
        "created_at": project.created_at,
        "updated_at": project.updated_at,
    }


def _by_ids(model, ids: list[int] | None, what: str):
    if ids is None:
        return None
    found = list(model.objects.filter(pk__in=ids))
    missing = sorted(set(ids) - {o.pk for o in found})
    if missing:
        # One whole sentence per kind, for the translators.
        message = _("Unknown group ids.") if what == "group" else _("Unknown user ids.")
        raise ApplicationError("not_found", message, status=404, ids=missing)
    return found


@router.get(
    "", response=list[ProjectOut], auth=READ_AUTH, summary="List the projects open to the caller"
)
def list_projects(request: HttpRequest):
    return [
        _out(p)
        for p in project_list_visible_to(request.user).prefetch_related("groups", "moderators")
    ]


@router.post("", response={201: ProjectOut}, summary="Create a project")
def create_project(request: HttpRequest, payload: ProjectIn):
    actor = require_admin(request)
    project = project_create(
        actor=actor,
        title=payload.title,
        description=payload.description,
        visibility=payload.visibility,
        groups=_by_ids(Group, payload.group_ids, "group"),
        moderators=_by_ids(User, payload.moderator_ids, "user"),
    )
    return Status(201, _out(project))


@router.get("/{int:project_id}", response=ProjectOut, auth=READ_AUTH, summary="Get a project")
def get_project(request: HttpRequest, project_id: int):
    project = get_object_or_404(Project, pk=project_id)
    if not project_is_visible_to(request.user, project):
        raise Http404
    return _out(project)


@router.patch(
    "/{int:project_id}",
    response=ProjectOut,
    auth=AUTH,  # moderators change their own projects; the service checks
    summary="Change a project",
)
def patch_project(request: HttpRequest, project_id: int, payload: ProjectPatch):
    project = get_object_or_404(Project, pk=project_id)
    if not project_is_visible_to(request.auth, project):
        raise Http404  # as when reading it: a hidden project's existence is not told
    updated = project_update(
        actor=request.auth,
        project=project,
        title=payload.title,
        description=payload.description,
        visibility=payload.visibility,
        groups=_by_ids(Group, payload.group_ids, "group"),
        moderators=_by_ids(User, payload.moderator_ids, "user"),
    )
    return _out(updated)


@router.delete("/{int:project_id}", response={204: None}, summary="Delete a project")
def delete_project(request: HttpRequest, project_id: int):
    actor = require_admin(request)
    project_delete(actor=actor, project=get_object_or_404(Project, pk=project_id))
    return Status(204, None)
