"""The dev mailbox: messages kept by EMAIL_URL=capture:// (the `make run` default)."""

from __future__ import annotations

from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.clickjacking import xframe_options_sameorigin

from portico.core.models import CapturedEmail
from portico.core.permissions import admin_required


def _require_mailbox() -> None:
    if not settings.PORTICO_MAILBOX:
        raise Http404


@admin_required
def mailbox(request: HttpRequest) -> HttpResponse:
    _require_mailbox()
    search = request.GET.get("q", "").strip()
    messages_ = CapturedEmail.objects.all()
    if search:
        messages_ = messages_.filter(to__icontains=search)
    page = Paginator(messages_, 50).get_page(request.GET.get("page"))
    return render(request, "web/mailbox.html", {"page": page, "search": search})


@admin_required
def message(request: HttpRequest, pk: int) -> HttpResponse:
    _require_mailbox()
    return render(
        request, "web/mailbox_message.html", {"message": get_object_or_404(CapturedEmail, pk=pk)}
    )


@admin_required
@xframe_options_sameorigin
def message_html(request: HttpRequest, pk: int) -> HttpResponse:
    """The HTML part alone, shown in a sandboxed iframe (no scripts run)."""
    _require_mailbox()
    captured = get_object_or_404(CapturedEmail, pk=pk)
    response = HttpResponse(captured.body_html or "", content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = (
        "sandbox allow-popups allow-popups-to-escape-sandbox "
        "allow-top-navigation-by-user-activation; script-src 'none'"
    )
    return response
