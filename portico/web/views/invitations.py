from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from portico.core.permissions import admin_required


@admin_required
def invitation_list(request: HttpRequest) -> HttpResponse:
    return render(request, "web/invitations.html")
