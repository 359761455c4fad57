from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portico.core.errors import ApplicationError
from portico.core.permissions import admin_required
from portico.projects.forms import ProjectForm
from portico.projects.models import Project
from portico.projects.services import project_create, project_delete, project_update


def _add_error(form, error: ApplicationError) -> None:
    field = error.details.get("field")
    form.add_error(field if field in form.fields else None, error.message)


@admin_required
def project_list_view(request: HttpRequest) -> HttpResponse:
    projects = Project.objects.prefetch_related("groups", "moderators")
    return render(request, "web/projects.html", {"projects": projects})


@admin_required
def project_create_view(request: HttpRequest) -> HttpResponse:
    form = ProjectForm(request.POST or None, initial={"visibility": Project.Visibility.EVERYONE})
    if request.method == "POST" and form.is_valid():
        try:
            project = project_create(actor=request.user, **form.cleaned_data)
        except ApplicationError as error:
            _add_error(form, error)
        else:
            messages.success(request, _("Project “%(title)s” created.") % {"title": project.title})
            return redirect("web:projects")
    return render(request, "web/project_form.html", {"form": form, "creating": True})


@admin_required
def project_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    project = get_object_or_404(Project, pk=pk)
    form = ProjectForm(
        request.POST or None,
        initial={
            "title": project.title,
            "description": project.description,
            "visibility": project.visibility,
            "groups": list(project.groups.all()),
            "moderators": list(project.moderators.all()),
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            project_update(actor=request.user, project=project, **form.cleaned_data)
        except ApplicationError as error:
            _add_error(form, error)
        else:
            messages.success(request, _("Project saved."))
            return redirect("web:projects")
    return render(request, "web/project_form.html", {"form": form, "project": project})


@admin_required
@require_POST
def project_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    project = get_object_or_404(Project, pk=pk)
    project_delete(actor=request.user, project=project)
    messages.success(request, _("Project “%(title)s” deleted.") % {"title": project.title})
    return redirect("web:projects")
