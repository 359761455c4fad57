"""Who sees which project. One rule, used by pages and the API alike:

- platform admins see every project;
- moderators see the projects they moderate;
- everyone, signed in or not, sees projects open to everyone;
- members (manual or by a smart group's rules) see projects open to their groups.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from portico.groups.selectors import group_ids_for_user
from portico.projects.models import Project


def project_list_visible_to(user: Any) -> QuerySet[Project]:
    projects = Project.objects.all()
    if user.is_authenticated and user.is_admin:
        return projects
    visible = Q(visibility=Project.Visibility.EVERYONE)
    if user.is_authenticated:
        visible |= Q(moderators=user)
        group_ids = group_ids_for_user(user)
        if group_ids:
            visible |= Q(visibility=Project.Visibility.GROUPS, groups__in=group_ids)
    return projects.filter(visible).distinct()


def project_is_visible_to(user: Any, project: Project) -> bool:
    return project_list_visible_to(user).filter(pk=project.pk).exists()


def project_can_edit(user: Any, project: Project) -> bool:
    """Admins edit every project; moderators edit the projects they moderate."""
    if not user.is_authenticated:
        return False
    return user.is_admin or project.moderators.filter(pk=user.pk).exists()


def project_list_editable_by(user: Any) -> QuerySet[Project]:
    if not user.is_authenticated:
        return Project.objects.none()
    if user.is_admin:
        return Project.objects.all()
    return Project.objects.filter(moderators=user)
