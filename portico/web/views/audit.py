from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from portico.core.models import AuditEvent
from portico.core.permissions import admin_required


@admin_required
def audit_log(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()
    events = AuditEvent.objects.all()
    if search:
        events = events.filter(
            Q(verb__icontains=search)
            | Q(actor_repr__icontains=search)
            | Q(target_repr__icontains=search)
        )
    page = Paginator(events, 100).get_page(request.GET.get("page"))
    return render(request, "web/audit_log.html", {"page": page, "search": search})
