"""Admin pages: printable letters (PDF) for an import's batch or a selection in the
list. Errors come back as messages on the page the admin came from."""

from __future__ import annotations

from django.contrib import messages
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portico.core.errors import ApplicationError
from portico.core.permissions import admin_required
from portico.invitations.letters import Letters, letters_filename
from portico.invitations.models import InvitationImport
from portico.invitations.services.letters import invitation_letters_print


def _pdf(letters: Letters) -> FileResponse:
    return FileResponse(
        letters.file,
        as_attachment=True,
        filename=letters_filename(),
        content_type="application/pdf",
    )


@admin_required
@require_POST
def import_letters(request: HttpRequest, pk: int) -> HttpResponse:
    """Import page → "Print letters (PDF)": a letter for each pending invitation of a
    finished import (audited), in parts of ``PORTICO_MAX_LETTERS`` (``part=2``...).
    A POST: drawing thousands of pages is not for any link another site could show."""
    invitation_import = get_object_or_404(
        InvitationImport.objects.defer("plan", "errors", "warnings"), pk=pk
    )
    if invitation_import.status != InvitationImport.Status.DONE or not invitation_import.batch_id:
        messages.error(request, _("Letters can be printed once the import is done."))
        return redirect("web:import", pk=pk)
    try:
        part = request.POST.get("part", "")
        letters = invitation_letters_print(
            actor=request.user,
            batch_id=invitation_import.batch_id,
            part=int(part) if part.isdigit() else None,
        )
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("web:import", pk=pk)
    return _pdf(letters)


@admin_required
@require_POST
def invitations_letters_view(request: HttpRequest) -> HttpResponse:
    """All invitations → select → "Print letters": the selected pending invitations'
    letters (audited); accepted and expired ones are skipped."""
    ids = [int(i) for i in request.POST.getlist("ids") if i.isdigit()]
    try:
        letters = invitation_letters_print(actor=request.user, ids=ids)
    except ApplicationError as error:
        messages.error(request, error.message)
        # Back to the list as it was (search, filter, sort, page).
        params = {k: v for k, v in request.POST.items() if k in ("q", "status", "sort", "page")}
        return redirect(reverse("web:invitations") + ("?" + urlencode(params) if params else ""))
    return _pdf(letters)
