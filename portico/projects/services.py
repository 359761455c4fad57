"""Services of the projects app. Admins create, change and delete projects and choose
their moderators; moderators change the title and description of their own projects."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from portico.accounts.models import User
from portico.core.audit import audit, audit_many
from portico.core.errors import ApplicationError, PermissionDenied
from portico.groups.models import Group
from portico.projects.models import Project
from portico.projects.selectors import project_can_edit


def _check(title: str, visibility: str, groups: list[Group], *, require_groups: bool = True) -> str:
    title = (title or "").strip()
    if not title:
        raise ApplicationError("invalid", _("A project needs a title."), field="title")
    if visibility not in Project.Visibility.values:
        raise ApplicationError(
            "invalid", _("Unknown visibility."), field="visibility", value=visibility
        )
    if require_groups and visibility == Project.Visibility.GROUPS and not groups:
        raise ApplicationError(
            "groups_required",
            _("Choose at least one group that may see the project."),
            field="groups",
        )
    return title


@transaction.atomic
def project_create(
    *,
    actor: User,
    title: str,
    description: str = "",
    visibility: str = Project.Visibility.EVERYONE,
    groups: Iterable[Group] = (),
    moderators: Iterable[User] = (),
) -> Project:
    """Create a project (admins only). A project open to groups needs at least one."""
    if not actor.is_admin:
        raise PermissionDenied()
    groups, moderators = list(groups), list(moderators)
    title = _check(title, visibility, groups)
    project = Project.objects.create(
        title=title, description=description.strip(), visibility=visibility
    )
    project.groups.set(groups if visibility == Project.Visibility.GROUPS else [])
    project.moderators.set(moderators)
    audit(
        actor=actor,
        verb="project.created",
        target=project,
        visibility=visibility,
        groups=[g.name for g in groups],
        moderators=[m.email for m in moderators],
    )
    return project


@transaction.atomic
def project_update(
    *,
    actor: User,
    project: Project,
    title: str | None = None,
    description: str | None = None,
    visibility: str | None = None,
    groups: Iterable[Group] | None = None,
    moderators: Iterable[User] | None = None,
) -> Project:
    """Change a project. Moderators may change title and description only; visibility,
    groups and moderators are for admins (``permission_denied`` otherwise)."""
    if not project_can_edit(actor, project):
        raise PermissionDenied()
    admin_fields = (visibility, groups, moderators)
    if not actor.is_admin and any(value is not None for value in admin_fields):
        raise PermissionDenied(_("Only platform admins change who may see a project."))
    changes: dict[str, Any] = {}
    new_groups = list(groups) if groups is not None else list(project.groups.all())
    new_visibility = visibility if visibility is not None else project.visibility
    new_title = _check(
        title if title is not None else project.title,
        new_visibility,
        new_groups,
        # Only whoever changes who may see the project must name a group: a moderator
        # still edits a project whose groups were all deleted since.
        require_groups=visibility is not None or groups is not None,
    )
    if new_title != project.title:
        changes["title"] = project.title = new_title
    if description is not None and description.strip() != project.description:
        changes["description"] = project.description = description.strip()
    if new_visibility != project.visibility:
        changes["visibility"] = project.visibility = new_visibility
    project.save()
    if groups is not None or visibility is not None:
        kept = new_groups if new_visibility == Project.Visibility.GROUPS else []
        if {g.pk for g in kept} != set(project.groups.values_list("pk", flat=True)):
            project.groups.set(kept)
            changes["groups"] = [g.name for g in kept]
    if moderators is not None:
        moderators = list(moderators)
        before = set(project.moderators.values_list("pk", flat=True))
        after = {m.pk for m in moderators}
        if before != after:
            project.moderators.set(moderators)
            for user in moderators:
                if user.pk not in before:
                    audit(
                        actor=actor, verb="project.moderator_added", target=project, user=user.email
                    )
            for user in User.objects.filter(pk__in=before - after):
                audit(
                    actor=actor, verb="project.moderator_removed", target=project, user=user.email
                )
    if changes:
        audit(actor=actor, verb="project.updated", target=project, **changes)
    return project


def project_add_moderator(*, actor: User | None, project: Project, user: User) -> bool:
    """Make ``user`` a moderator of ``project`` (used by invitations too). Returns
    whether anything changed."""
    return project_add_moderators(actor=actor, project=project, users=[user]) == 1


@transaction.atomic
def project_add_moderators(*, actor: User | None, project: Project, users: Iterable[User]) -> int:
    """Make every one of ``users`` a moderator of ``project``, in a few queries whatever
    their number; those who already are are left alone. One audit entry per new
    moderator. Returns how many were added."""
    users = list({user.pk: user for user in users}.values())
    through = Project.moderators.through
    existing = set(
        through.objects.filter(
            project_id=project.pk, user_id__one_of=[u.pk for u in users]
        ).values_list("user_id", flat=True)
    )
    new = [user for user in users if user.pk not in existing]
    through.objects.bulk_create(
        [through(project_id=project.pk, user_id=user.pk) for user in new], ignore_conflicts=True
    )
    audit_many(
        actor=actor,
        verb="project.moderator_added",
        target_type=Project._meta.label_lower,
        entries=((project.pk, str(project), {"user": user.email}) for user in new),
    )
    return len(new)


@transaction.atomic
def project_delete(*, actor: User, project: Project) -> None:
    if not actor.is_admin:
        raise PermissionDenied()
    audit(actor=actor, verb="project.deleted", target=project, title=project.title)
    project.delete()
