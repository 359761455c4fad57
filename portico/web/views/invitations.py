"""Admin pages of the invitations: invite people, all invitations, resend, delete (one,
a selection, or everything the list's filter matches), change an address."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.functional import Promise
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, ngettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from portico.core.errors import ApplicationError
from portico.core.permissions import admin_required
from portico.invitations.emails import preview_email
from portico.invitations.models import Invitation
from portico.invitations.selectors import (
    SORTS,
    STATUS_FILTERS,
    InvitationFilter,
    invitation_filter_counts,
    invitation_list_for_admin,
)
from portico.invitations.services.common import invitation_ttl
from portico.invitations.services.create import (
    InviteOptions,
    invitation_create_batch,
    parse_typed_emails,
)
from portico.invitations.services.manage import (
    invitation_change_email,
    invitation_delete,
    invitation_resend,
)
from portico.invitations.services.manage_many import (
    BulkSummary,
    invitations_delete,
    invitations_delete_matching,
    invitations_resend,
    invitations_resend_matching,
)
from portico.web.forms import InvitationAddressForm, InviteForm, InvitePreviewForm

PAGE_SIZE = 50


@admin_required
def invite(request: HttpRequest) -> HttpResponse:
    """Invitations → Invite people, tab "Enter email addresses"."""
    form = InviteForm(request.POST or None)
    errors: list[dict] = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        options = InviteOptions(
            is_admin=data["is_admin"],
            moderator=data["moderator"],
            project_ids=[p.pk for p in data["projects"]],
            group_ids=[g.pk for g in data["groups"]],
            language=data["language"],
            message=data["message"],
        )
        try:
            result = invitation_create_batch(
                actor=request.user, rows=parse_typed_emails(data["emails"]), options=options
            )
        except ApplicationError as error:
            errors = error.errors
        else:
            c = result.counts
            messages.success(
                request,
                # Four counts in one message: a label before each number, which then
                # needs no plural form.
                _(
                    "Invited: %(invited)s. Registered users updated: %(updated)s. "
                    "Merged into pending invitations: %(merged)s. "
                    "Expired invitations renewed: %(renewed)s."
                )
                % c,
            )
            for warning in result.warnings:
                messages.warning(request, warning["message"])
            return redirect("web:invitations")
    return render(request, "web/invite.html", {"form": form, "errors": errors})


def _invite_form_as_typed(data: QueryDict) -> InviteForm:
    """An unbound invite form showing the values that were posted, without errors: the
    admin comes back to the form as it was typed."""
    initial: dict[str, object] = {}
    for name, field in InviteForm.base_fields.items():
        if isinstance(field, forms.MultipleChoiceField | forms.ModelMultipleChoiceField):
            initial[name] = data.getlist(name)
        elif isinstance(field, forms.BooleanField):
            initial[name] = name in data
        elif name in data:
            initial[name] = data[name]
    return InviteForm(initial=initial)


@admin_required
@require_POST
def invite_preview(request: HttpRequest) -> HttpResponse:
    """Invitations → Invite people, "Preview the email": the invitation email in the
    chosen language, with the personal message and the first typed name, under the form
    as it was typed. Creates nothing and sends nothing."""
    form = InvitePreviewForm(request.POST)
    form.is_valid()  # every field is optional text: always valid
    data = form.cleaned_data
    rows = parse_typed_emails(data.get("emails", ""))
    errors: list[dict] = []
    preview = None
    try:
        preview = preview_email(
            inviter=request.user,
            language=data.get("language"),
            message=data.get("message", ""),
            first_name=rows[0].first_name if rows else "",
            last_name=rows[0].last_name if rows else "",
        )
    except ApplicationError as error:
        errors = error.errors
    return render(
        request,
        "web/invite.html",
        {
            "form": _invite_form_as_typed(request.POST),
            "errors": errors,
            "preview": preview,
            "preview_html": preview.alternatives[0].content if preview else "",
        },
    )


LIST_PARAMS = ("q", "status", "sort", "page")


def _list_params(data: QueryDict) -> dict[str, str]:
    """The list's search, filter, sort and page, carried by a form to come back to them."""
    return {k: v for k, v in data.items() if k in LIST_PARAMS}


def _list_url(request: HttpRequest, params: dict[str, str] | None = None) -> str:
    params = _list_params(request.POST) if params is None else params
    return reverse("web:invitations") + ("?" + urlencode(params) if params else "")


@admin_required
def invitation_list(request: HttpRequest) -> HttpResponse:
    """Invitations → All invitations: search, filter, sort, pages of 50."""
    now = timezone.now()
    search = request.GET.get("q", "").strip()
    status = request.GET.get("status", "")
    # The page offers the known statuses only; a hand-edited address shows every status
    # (the filter's menu then says so) rather than an error page.
    status = status if status in STATUS_FILTERS else ""
    sort = request.GET.get("sort", "-date")
    sort = sort if sort in SORTS else "-date"
    invitations = invitation_list_for_admin(search=search, status=status, sort=sort, now=now)
    page = Paginator(invitations.prefetch_related("groups"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    # Where Resend and Delete go once "all matching" is selected: a confirmation page.
    params = {"q": search, "status": status, "sort": sort, "page": str(page.number)}
    return render(
        request,
        "web/invitations.html",
        {
            "page": page,
            "search": search,
            "status": status,
            "sort": sort,
            "now": now,
            "resend_matching_url": _matching_url("web:invitations-resend-matching", params),
            "delete_matching_url": _matching_url("web:invitations-delete-matching", params),
            "sorts": [
                ("email", _("Email")),
                ("name", _("Name")),
                ("date", _("Sent")),
                ("status", _("Status")),
            ],
        },
    )


@admin_required
def invitation_address_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Invitations → Edit address: the current address, why it could not be delivered,
    and a form to send the invitation to another address (with a new code). Comes back
    to the list as it was (search, filter, sort, page)."""
    invitation = get_object_or_404(Invitation, pk=pk)
    params = _list_params(request.POST if request.method == "POST" else request.GET)
    form = InvitationAddressForm(
        request.POST if request.method == "POST" else None,
        initial={"email": invitation.email or ""},
    )
    if request.method == "POST" and form.is_valid():
        try:
            changed = invitation_change_email(
                actor=request.user, invitation_id=pk, email=form.cleaned_data["email"]
            )
        except ApplicationError as error:
            form.add_error(
                "email" if error.details.get("field") == "email" else None, error.message
            )
        else:
            messages.success(
                request,
                _("Invitation sent to %(email)s with a new code; the old link no longer works.")
                % {"email": changed.email},
            )
            return redirect(_list_url(request, params))
    return render(
        request,
        "web/invitation_address.html",
        {
            "invitation": invitation,
            "form": form,
            "list_params": params,
            "list_url": _list_url(request, params),
        },
    )


def _report(request: HttpRequest, results: list[dict], done: Promise) -> None:
    """One success message counting the done ones (``done``: an ``ngettext_lazy`` whose
    plural form follows ``count``), one error per failure."""
    ok = sum(1 for r in results if r["ok"])
    if ok:
        messages.success(request, done % {"count": ok})
    for failure in (r for r in results if not r["ok"]):
        messages.error(request, f"#{failure['id']}: {failure['message']}")


@admin_required
@require_POST
def invitation_resend_view(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        invitation = invitation_resend(actor=request.user, invitation_id=pk)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _resent_message(invitation))
    return redirect(_list_url(request))


def _resent_message(invitation: Invitation) -> str:
    """What resending did: an invitation with an address was sent again; a code without
    one was only renewed (a new expiry), since there is nowhere to send it."""
    if invitation.email:
        return _("Invitation for %(who)s sent again.") % {"who": invitation}
    return _(
        "Code %(code)s… renewed: it is valid until %(date)s. No email was sent: a code "
        "has no address."
    ) % {
        "code": invitation.token_display[:4],
        "date": formats.date_format(timezone.localtime(invitation.expires_at), "DATE_FORMAT"),
    }


@admin_required
@require_POST
def invitation_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        invitation_delete(actor=request.user, invitation_id=pk)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Invitation deleted."))
    return redirect(_list_url(request))


def _selected_ids(request: HttpRequest) -> list[int]:
    # isdecimal, not isdigit: "²" is a digit that int() refuses.
    return [int(i) for i in request.POST.getlist("ids") if i.isdecimal()]


@admin_required
@require_POST
def invitations_resend_view(request: HttpRequest) -> HttpResponse:
    results = invitations_resend(actor=request.user, ids=_selected_ids(request))
    # Codes without an address are renewed, not sent: counted apart, as the resend of
    # everything matching does.
    codes = set(
        Invitation.objects.filter(Q(email__isnull=True) | Q(email=""))
        .filter(pk__in=[r["id"] for r in results if r["ok"]])
        .values_list("pk", flat=True)
    )
    _report(
        request,
        [r for r in results if r["id"] not in codes],
        ngettext_lazy(
            "%(count)s invitation sent again.", "%(count)s invitations sent again.", "count"
        ),
    )
    if codes:
        messages.info(
            request,
            ngettext(
                "%(count)s code without an address was renewed, without email.",
                "%(count)s codes without an address were renewed, without email.",
                len(codes),
            )
            % {"count": len(codes)},
        )
    return redirect(_list_url(request))


@admin_required
@require_POST
def invitations_delete_view(request: HttpRequest) -> HttpResponse:
    results = invitations_delete(actor=request.user, ids=_selected_ids(request))
    _report(
        request,
        results,
        ngettext_lazy("%(count)s invitation deleted.", "%(count)s invitations deleted.", "count"),
    )
    return redirect(_list_url(request))


# Everything the list's filter matches.


def _matching_url(name: str, params: dict[str, str]) -> str:
    return reverse(name) + "?" + urlencode({k: v for k, v in params.items() if v})


def _list_filter(data: QueryDict) -> InvitationFilter:
    """The list's filter as the list applies it (an unknown status shows every status).
    An empty filter means every invitation only when the form says so (``all``), as
    the confirmation page does after naming it."""
    status = data.get("status", "")
    return InvitationFilter(
        search=data.get("q", "").strip(),
        status=status if status in STATUS_FILTERS else "",
        everything=data.get("all") == "1",
    )


def _up_to_id(data: QueryDict) -> int | None:
    value = data.get("up_to_id", "")
    return int(value) if value.isdecimal() else None


def _confirm_matching(request: HttpRequest, *, operation: str) -> HttpResponse:
    """The confirmation page of a bulk operation on the list's filter: how many
    invitations it matches now, which filter, and what will happen to them. The form
    posts the highest id counted, so that invitations created afterwards are left out."""
    invitation_filter = _list_filter(request.GET)
    counts = invitation_filter_counts(invitation_filter, now=timezone.now())
    params = _list_params(request.GET)
    return render(
        request,
        "web/invitations_matching.html",
        {
            "operation": operation,
            "filter": invitation_filter,
            "status_label": dict(Invitation.Status.choices).get(
                invitation_filter.status, _("Not delivered")
            ),
            "counts": counts,
            "ttl_days": invitation_ttl().days,
            "list_params": params,
            "list_url": _list_url(request, params),
        },
    )


def _do_matching(request: HttpRequest, service, done: Promise) -> BulkSummary | None:
    """Run ``service`` (resend or delete by filter) on the filter the confirmation page
    posted, and say the outcome in messages, counted: what was done (``done``, an
    ``ngettext_lazy`` on ``count``), each kind of failure with its count. None when the
    service refused the filter (its reason is the message)."""
    try:
        summary = service(
            actor=request.user,
            invitation_filter=_list_filter(request.POST),
            up_to_id=_up_to_id(request.POST),
        )
    except ApplicationError as error:
        messages.error(request, error.message)
        return None
    if summary.succeeded:
        messages.success(request, done % {"count": summary.succeeded})
    elif not summary.failed:
        messages.info(request, _("No invitation matches the filter any more."))
    for failure in summary.failures():
        messages.error(request, failure["message"])
    return summary


@admin_required
@require_http_methods(["GET", "POST"])
def invitations_resend_matching_view(request: HttpRequest) -> HttpResponse:
    """All invitations → select all matching → Resend: a confirmation page naming the
    count and the filter (GET), then every matching invitation resent (POST) and back
    to the list with the counts."""
    if request.method != "POST":
        return _confirm_matching(request, operation="resend")
    summary = _do_matching(
        request,
        invitations_resend_matching,
        ngettext_lazy(
            "%(count)s invitation sent again.", "%(count)s invitations sent again.", "count"
        ),
    )
    if summary and (codes := summary.succeeded - summary.emails):
        messages.info(
            request,
            ngettext(
                "%(count)s code without an address was renewed, without email.",
                "%(count)s codes without an address were renewed, without email.",
                codes,
            )
            % {"count": codes},
        )
    return redirect(_list_url(request))


@admin_required
@require_http_methods(["GET", "POST"])
def invitations_delete_matching_view(request: HttpRequest) -> HttpResponse:
    """All invitations → select all matching → Delete: a confirmation page naming the
    count and the filter (GET), then every matching invitation deleted (POST) and back
    to the list with the count."""
    if request.method != "POST":
        return _confirm_matching(request, operation="delete")
    _do_matching(
        request,
        invitations_delete_matching,
        ngettext_lazy("%(count)s invitation deleted.", "%(count)s invitations deleted.", "count"),
    )
    return redirect(_list_url(request))
