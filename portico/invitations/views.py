"""Public pages of the invitations: type a code, open a link, accept, ask again.

Opening a link changes nothing (mail scanners open links too); only submitting the form
accepts. Every page that looks a token up is rate-limited per IP address.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portico.core.errors import ApplicationError
from portico.core.ratelimit import check_rate, client_ip
from portico.invitations.forms import AcceptForm, EnterCodeForm, ResendForm
from portico.invitations.selectors import (
    canonical_token,
    check_acceptable,
    invitation_get_by_token,
)
from portico.invitations.services.accept import invitation_accept
from portico.invitations.services.manage import invitation_resend_to_address

BACKEND = "portico.accounts.backends.EmailBackend"


def _problem(request: HttpRequest, error: ApplicationError) -> HttpResponse:
    return render(request, "invitations/problem.html", {"error": error}, status=error.status)


def enter_code(request: HttpRequest) -> HttpResponse:
    """``/invite``: a person types the code from their letter or email."""
    form = EnterCodeForm(request.POST or None, initial={"token": request.GET.get("code", "")})
    problem: ApplicationError | None = None
    if request.method == "POST" and form.is_valid():
        try:
            check_rate("token_lookup", client_ip(request))
            canonical = canonical_token(form.cleaned_data["token"])
            check_acceptable(invitation_get_by_token(canonical))
        except ApplicationError as error:
            if error.code in ("token_mistyped", "token_not_found", "rate_limited"):
                form.add_error("token", error.message)
                problem = error
            else:
                return _problem(request, error)
        else:
            return redirect("invitations:accept", token=canonical)
    # Each token problem keeps its own status (422, 404, 429), as on the other pages.
    status = problem.status if problem else 422 if form.errors else 200
    return render(
        request,
        "invitations/enter_code.html",
        {"form": form, "error_code": problem.code if problem else ""},
        status=status,
    )


def accept(request: HttpRequest, token: str) -> HttpResponse:
    """``/invite/<token>``: the form, filled in; submitting it accepts."""
    try:
        check_rate("token_lookup", client_ip(request))
        invitation = invitation_get_by_token(token)
        check_acceptable(invitation)
    except ApplicationError as error:
        return _problem(request, error)
    if request.user.is_authenticated:
        return render(request, "invitations/signed_in.html", {"invitation": invitation})

    error_code = ""
    form = AcceptForm(
        request.POST or None,
        fixed_email=invitation.email,
        initial={"first_name": invitation.first_name, "last_name": invitation.last_name},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = invitation_accept(
                token=token,
                email=data.get("email"),
                first_name=data["first_name"],
                last_name=data["last_name"],
                password=data["password"],
            )
        except ApplicationError as error:
            if error.code in (
                "invitation_already_accepted",
                "invitation_expired",
                "token_not_found",
            ):
                return _problem(request, error)
            error_code = error.code
            field = error.details.get("field")
            form.add_error(field if field in form.fields else None, error.message)
        else:
            login(request, user, backend=BACKEND)
            # The next page speaks the account's language (UserLanguageMiddleware), the
            # invitation's; this page spoke the browser's. The welcome goes with the next.
            with translation.override(user.language.lower()):
                messages.success(
                    request,
                    _("Welcome to %(platform)s! Your account is ready.")
                    % {"platform": settings.PORTICO_PLATFORM_NAME},
                )
            return redirect("projects:list")
    return render(
        request,
        "invitations/accept.html",
        {
            "form": form,
            "invitation": invitation,
            "offer_resend": error_code == "invitation_pending",
        },
    )


@require_POST
def resend_on_request(request: HttpRequest) -> HttpResponse:
    """ "Send my invitation again", from the sign-up page. Rate-limited per address and
    per IP; the answer is the same whether or not an invitation exists."""
    form = ResendForm(request.POST)
    if form.is_valid():
        email = form.cleaned_data["email"]
        try:
            check_rate("invitation_resend_ip", client_ip(request))
            check_rate("invitation_resend_address", email.lower())
        except ApplicationError as error:
            messages.error(request, error.message)
            return redirect("accounts:sign-up")
        invitation_resend_to_address(email=email)
    messages.success(
        request,
        _("If an invitation is waiting for this address, we have sent it again. Check your inbox."),
    )
    return redirect("accounts:sign-up")
