from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from portico.core.errors import ApplicationError
from portico.projects.forms import ProjectContentForm
from portico.projects.models import Project
from portico.projects.selectors import (
    project_can_edit,
    project_is_visible_to,
    project_list_editable_by,
    project_list_visible_to,
)
from portico.projects.services import project_update


def project_list(request: HttpRequest) -> HttpResponse:
    """The home page: exactly the projects open to the visitor."""
    projects = project_list_visible_to(request.user).prefetch_related("groups")
    editable = set(project_list_editable_by(request.user).values_list("pk", flat=True))
    return render(request, "projects/list.html", {"projects": projects, "editable": editable})


def project_detail(request: HttpRequest, pk: int) -> HttpResponse:
    project = get_object_or_404(Project, pk=pk)
    if not project_is_visible_to(request.user, project):
        # The same answer as a missing project: a hidden project's existence is not told.
        raise Http404
    return render(
        request,
        "projects/detail.html",
        {
            "project": project,
            "can_edit": project_can_edit(request.user, project),
        },
    )


def project_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Moderators (and admins) change a project's title and description."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    project = get_object_or_404(Project, pk=pk)
    if not project_is_visible_to(request.user, project):
        raise Http404  # as on the detail page: a hidden project's existence is not told
    if not project_can_edit(request.user, project):
        raise PermissionDenied
    form = ProjectContentForm(
        request.POST or None,
        initial={
            "title": project.title,
            "description": project.description,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            project_update(actor=request.user, project=project, **form.cleaned_data)
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("The project is saved."))
            return redirect("projects:detail", pk=project.pk)
    return render(request, "projects/edit.html", {"form": form, "project": project})
