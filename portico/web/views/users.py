from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portico.accounts.models import User
from portico.accounts.services import user_set_active, user_set_admin
from portico.core.errors import ApplicationError
from portico.core.permissions import admin_required
from portico.groups.models import Group
from portico.groups.selectors import group_ids_for_user

PAGE_SIZE = 50


@admin_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect("web:users")


@admin_required
def user_list(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()
    users = User.objects.all()
    if search:
        users = users.filter(
            Q(email__icontains=search)
            | Q(first_name__icontains=search)
            | Q(last_name__icontains=search)
        )
    if request.GET.get("role") == "admin":
        users = users.filter(is_admin=True)
    elif request.GET.get("role") == "moderator":
        users = users.filter(moderated_projects__isnull=False).distinct()
    page = Paginator(users.order_by("email"), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "web/users.html",
        {"page": page, "search": search, "role": request.GET.get("role", "")},
    )


@admin_required
def user_detail(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_object_or_404(User, pk=pk)
    groups = Group.objects.filter(pk__in=group_ids_for_user(person))
    return render(
        request,
        "web/user.html",
        {
            "person": person,
            "groups": groups,
            "moderated": person.moderated_projects.all(),
        },
    )


@admin_required
@require_POST
def user_set_admin_view(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_object_or_404(User, pk=pk)
    try:
        user_set_admin(
            actor=request.user, user=person, is_admin=request.POST.get("is_admin") == "1"
        )
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Admin rights updated."))
    return redirect("web:user", pk=pk)


@admin_required
@require_POST
def user_set_active_view(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_object_or_404(User, pk=pk)
    try:
        user_set_active(
            actor=request.user, user=person, is_active=request.POST.get("is_active") == "1"
        )
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Account updated."))
    return redirect("web:user", pk=pk)
