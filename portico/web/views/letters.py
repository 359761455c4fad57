"""Admin pages of printable letters: an import's "Print letters (PDF)" and the list's
bulk "Print letters" queue a print drawn by the worker and land on its page (a progress
bar, then a Download button); the recent prints are listed. Errors come back as
messages on the page the admin came from."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portico.core.errors import ApplicationError
from portico.core.permissions import admin_required
from portico.invitations.models import InvitationImport, LetterPrint
from portico.invitations.services.letters import (
    letter_print_available_until,
    letter_print_download,
    letter_print_start,
    letter_prints_shown,
)


@admin_required
@require_POST
def import_letters(request: HttpRequest, pk: int) -> HttpResponse:
    """Import page → "Print letters (PDF)": queue a print of the letters of a finished
    import's pending invitations, then show its progress. A POST: it starts work and
    is recorded in the audit log, never the effect of a link another site could show."""
    invitation_import = get_object_or_404(
        InvitationImport.objects.defer("plan", "errors", "warnings"), pk=pk
    )
    if invitation_import.status != InvitationImport.Status.DONE or not invitation_import.batch_id:
        messages.error(request, _("Letters can be printed once the import is done."))
        return redirect("web:import", pk=pk)
    try:
        letter_print = letter_print_start(actor=request.user, batch_id=invitation_import.batch_id)
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("web:import", pk=pk)
    return redirect("web:letter-print", pk=letter_print.pk)


@admin_required
@require_POST
def invitations_letters_view(request: HttpRequest) -> HttpResponse:
    """All invitations → select → "Print letters": queue a print of the selected pending
    invitations (accepted and expired ones are skipped), then show its progress."""
    # isdecimal, not isdigit: "²" is a digit that int() refuses.
    ids = [int(i) for i in request.POST.getlist("ids") if i.isdecimal()]
    try:
        letter_print = letter_print_start(actor=request.user, ids=ids)
    except ApplicationError as error:
        messages.error(request, error.message)
        # Back to the list as it was (search, filter, sort, page).
        params = {k: v for k, v in request.POST.items() if k in ("q", "status", "sort", "page")}
        return redirect(reverse("web:invitations") + ("?" + urlencode(params) if params else ""))
    return redirect("web:letter-print", pk=letter_print.pk)


def _with_sources(prints: list[LetterPrint]) -> list[LetterPrint]:
    """Each print with ``source``: the import its batch came from (``pk``, ``filename``),
    or None (typed addresses, or a selection of ids)."""
    batch_ids = {p.batch_id for p in prints if p.batch_id}
    sources = {
        batch_id: {"pk": pk, "filename": filename}
        for batch_id, pk, filename in InvitationImport.objects.filter(
            batch_id__in=batch_ids
        ).values_list("batch_id", "pk", "filename")
    }
    for letter_print in prints:
        letter_print.source = sources.get(letter_print.batch_id)
    return prints


def _progress_context(letter_print: LetterPrint) -> dict:
    return {
        "print": letter_print,
        "available_until": letter_print_available_until(letter_print),
    }


@admin_required
def letter_print_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A print's page: what it prints, its progress and, once drawn, the Download
    button."""
    letter_print = get_object_or_404(letter_prints_shown().select_related("actor"), pk=pk)
    (letter_print,) = _with_sources([letter_print])
    return render(request, "web/letter_print.html", _progress_context(letter_print))


@admin_required
def letter_print_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress bar, polled by the page every second while the print is queued or
    drawing; once done it carries the Download button."""
    letter_print = get_object_or_404(letter_prints_shown(), pk=pk)
    return render(request, "web/_letter_print_progress.html", _progress_context(letter_print))


@admin_required
@require_POST
def letter_print_download_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The print's PDF, as an attachment (audited). A POST with the CSRF token: each
    download is recorded as the admin's, so no other site may trigger one."""
    try:
        download = letter_print_download(actor=request.user, print_id=pk)
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("web:letter-print", pk=pk)
    return FileResponse(
        download.file,
        as_attachment=True,
        filename=download.filename,
        content_type="application/pdf",
    )


@admin_required
def letter_print_list(request: HttpRequest) -> HttpResponse:
    """Invitations → Printed letters: every admin's prints, the most recent first."""
    page = Paginator(letter_prints_shown().select_related("actor"), 50).get_page(
        request.GET.get("page")
    )
    page.object_list = _with_sources(list(page.object_list))
    return render(request, "web/letter_prints.html", {"page": page})
