from __future__ import annotations

import re

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from portico.accounts.models import User
from portico.accounts.selectors import users_by_emails
from portico.core.errors import ApplicationError
from portico.core.permissions import admin_required
from portico.groups.models import Group
from portico.groups.selectors import group_list, group_members
from portico.groups.services import (
    group_add_members,
    group_create,
    group_delete,
    group_remove_members,
    group_update,
)
from portico.web.forms import AddMembersForm, GroupCreateForm, GroupForm, RulesForm


def _add_error(form, error: ApplicationError) -> None:
    field = error.details.get("field")
    form.add_error(field if field in form.fields else None, error.message)


@admin_required
def group_list_view(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()
    groups = list(group_list(search=search))
    counts = {g.pk: group_members(g).count() for g in groups}
    return render(
        request, "web/groups.html", {"groups": groups, "counts": counts, "search": search}
    )


@admin_required
def group_create_view(request: HttpRequest) -> HttpResponse:
    form = GroupCreateForm(request.POST or None)
    rules_form = RulesForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and rules_form.is_valid():
        try:
            group = group_create(actor=request.user, rules=rules_form.rules(), **form.cleaned_data)
        except ApplicationError as error:
            _add_error(form, error)
        else:
            messages.success(request, _("Group “%(name)s” created.") % {"name": group.name})
            return redirect("web:group", pk=group.pk)
    return render(
        request, "web/group_form.html", {"form": form, "rules_form": rules_form, "creating": True}
    )


@admin_required
def group_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    group = get_object_or_404(Group, pk=pk)
    form = GroupForm(
        request.POST or None, initial={"name": group.name, "description": group.description}
    )
    rules_form = RulesForm(
        request.POST or None, initial=RulesForm.initial_for(group.rules), rows=len(group.rules)
    )
    if request.method == "POST" and form.is_valid() and rules_form.is_valid():
        try:
            group_update(
                actor=request.user,
                group=group,
                rules=rules_form.rules() if group.is_smart else None,
                **form.cleaned_data,
            )
        except ApplicationError as error:
            _add_error(form, error)
        else:
            messages.success(request, _("Group saved."))
            return redirect("web:group", pk=group.pk)
    return render(
        request, "web/group_form.html", {"form": form, "rules_form": rules_form, "group": group}
    )


@admin_required
def group_detail(request: HttpRequest, pk: int) -> HttpResponse:
    group = get_object_or_404(Group, pk=pk)
    members = Paginator(group_members(group).order_by("email"), 50).get_page(
        request.GET.get("page")
    )
    return render(
        request, "web/group.html", {"group": group, "page": members, "add_form": AddMembersForm()}
    )


@admin_required
@require_POST
def group_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    group = get_object_or_404(Group, pk=pk)
    group_delete(actor=request.user, group=group)
    messages.success(request, _("Group “%(name)s” deleted.") % {"name": group.name})
    return redirect("web:groups")


@admin_required
@require_POST
def group_add_members_view(request: HttpRequest, pk: int) -> HttpResponse:
    group = get_object_or_404(Group, pk=pk)
    form = AddMembersForm(request.POST)
    if form.is_valid():
        emails = {e.lower() for e in re.split(r"[\s,;]+", form.cleaned_data["emails"]) if e}
        found = users_by_emails(emails)
        users = list(found.values())
        unknown = sorted(emails - set(found))
        try:
            added = group_add_members(actor=request.user, group=group, users=users)
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                ngettext("%(count)s member added.", "%(count)s members added.", added)
                % {"count": added},
            )
            if unknown:
                messages.error(
                    request, _("No account for: %(emails)s") % {"emails": ", ".join(unknown)}
                )
    return redirect("web:group", pk=pk)


@admin_required
@require_POST
def group_remove_member_view(request: HttpRequest, pk: int, user_pk: int) -> HttpResponse:
    group = get_object_or_404(Group, pk=pk)
    user = get_object_or_404(User, pk=user_pk)
    try:
        group_remove_members(actor=request.user, group=group, users=[user])
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("%(email)s removed from the group.") % {"email": user.email})
    return redirect("web:group", pk=pk)
