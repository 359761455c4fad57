"""Admin pages of spreadsheet imports: upload, preview, confirm, progress, export."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from portico.core.errors import ApplicationError
from portico.core.permissions import admin_required
from portico.invitations.exports import error_sheet_rows, export_response, template_response
from portico.invitations.models import InvitationImport, LetterPrint
from portico.invitations.services.imports import (
    invitation_import_confirm,
    invitation_import_preview,
    invitation_import_progress,
    invitation_import_start,
    invitation_import_stop_sending,
)
from portico.invitations.services.letters import invitations_for_letters
from portico.invitations.services.planning import InviteOptions
from portico.invitations.workbooks import xlsx_file
from portico.web.forms import CodesForm, ImportForm

ACTIVE = (InvitationImport.Status.CHECKING, InvitationImport.Status.STORING)


def _options(data: dict) -> InviteOptions:
    return InviteOptions(
        is_admin=data["is_admin"],
        moderator=data["moderator"],
        project_ids=[p.pk for p in data["projects"]],
        group_ids=[g.pk for g in data["groups"]],
        language=data["language"],
        message=data.get("message", ""),
        send_email=data.get("send_email", False),
    )


def _upload(request: HttpRequest, form_class, kind: str, template: str) -> HttpResponse:
    form = form_class(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            invitation_import = invitation_import_start(
                actor=request.user,
                upload=form.cleaned_data["file"],
                options=_options(form.cleaned_data),
                kind=kind,
            )
        except ApplicationError as error:
            form.add_error("file", error.message)
        else:
            return redirect("web:import", pk=invitation_import.pk)
    return render(request, template, {"form": form, "kind": kind})


@admin_required
def import_file(request: HttpRequest) -> HttpResponse:
    """Invitations → Invite people, tab "Import a file"."""
    return _upload(request, ImportForm, InvitationImport.Kind.FILE, "web/import.html")


@admin_required
def generate_codes(request: HttpRequest) -> HttpResponse:
    """Invitations → Invite people, tab "Generate codes"."""
    return _upload(request, CodesForm, InvitationImport.Kind.CODES, "web/import.html")


@admin_required
def download_template(request: HttpRequest) -> HttpResponse:
    return template_response(codes=request.GET.get("kind") == "codes")


@admin_required
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The preview (summary, warnings, row by row), the errors, or the progress."""
    invitation_import = get_object_or_404(InvitationImport, pk=pk)
    rows = Paginator(invitation_import.plan, 50).get_page(request.GET.get("page"))
    rows.object_list = invitation_import_preview(
        invitation_import, offset=max(0, rows.start_index() - 1), limit=50
    )
    has_letters, letter_prints = False, []
    if invitation_import.status == InvitationImport.Status.DONE and invitation_import.batch_id:
        batch_id = invitation_import.batch_id
        has_letters = invitations_for_letters(batch_id=batch_id, now=timezone.now()).exists()
        letter_prints = LetterPrint.objects.filter(batch_id=batch_id)[:5]
    return render(
        request,
        "web/import_detail.html",
        {
            "import": invitation_import,
            "rows": rows,
            "page": rows,
            "progress": invitation_import_progress(invitation_import),
            "errors": invitation_import.errors[:500],
            "more_errors": max(0, len(invitation_import.errors) - 500),
            "has_letters": has_letters,
            "letter_prints": letter_prints,
        },
    )


@admin_required
def import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress bars, polled by the page every second while work is under way. When
    the status changes, the whole page reloads to show what is new."""
    # Polled every second: without the rows, the preview and the errors (megabytes for a
    # large import).
    invitation_import = get_object_or_404(
        InvitationImport.objects.defer("plan", "errors", "warnings"), pk=pk
    )
    progress = invitation_import_progress(invitation_import)
    response = render(
        request, "web/_import_progress.html", {"import": invitation_import, "progress": progress}
    )
    if request.GET.get("seen") and request.GET["seen"] != invitation_import.status:
        response["HX-Refresh"] = "true"
    return response


@admin_required
@require_POST
def import_stop_sending(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress's "Stop sending": the import's waiting emails are cancelled."""
    try:
        _import, cancelled = invitation_import_stop_sending(
            actor=request.user, import_id=pk, now=timezone.now()
        )
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            ngettext(
                "%(n)s email will not be sent. The invitations stay pending: resend or "
                "delete them from the list.",
                "%(n)s emails will not be sent. The invitations stay pending: resend or "
                "delete them from the list.",
                cancelled,
            )
            % {"n": cancelled},
        )
    return redirect("web:import", pk=pk)


@admin_required
@require_POST
def import_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        invitation_import = invitation_import_confirm(actor=request.user, import_id=pk)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _("Confirmed: the invitations are being stored and sent.")
            if invitation_import.summary.get("emails")
            else _("Confirmed: the invitations are being stored. No email will be sent."),
        )
    return redirect("web:import", pk=pk)


@admin_required
def import_errors(request: HttpRequest, pk: int) -> HttpResponse:
    header, rows = error_sheet_rows(
        get_object_or_404(InvitationImport.objects.defer("plan"), pk=pk)
    )
    return FileResponse(
        xlsx_file(header, rows, sheet="errors"),
        as_attachment=True,
        filename="portico-import-errors.xlsx",
    )


@admin_required
def export(request: HttpRequest) -> HttpResponse:
    """Export the list as filtered on the page (or everything), xlsx or csv."""
    batch = request.GET.get("batch", "")
    try:
        if batch and not batch.isdecimal():
            # Never "no batch": a mistyped one must not widen to every invitation.
            raise ApplicationError(
                "invalid", _("batch is a number."), status=422, field="batch", value=batch
            )
        return export_response(
            actor=request.user,
            file_format=request.GET.get("format", "xlsx"),
            search=request.GET.get("q", ""),
            status=request.GET.get("status", ""),
            batch_id=int(batch) if batch else None,  # the import page's "Export these codes"
            # As Excel does: semicolons where the decimal separator is a comma (nl-BE,
            # fr-BE), so that the file opens in columns.
            delimiter=request.GET.get("delimiter")
            or ("semicolon" if formats.get_format("DECIMAL_SEPARATOR") == "," else "comma"),
        )
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("web:invitations")
