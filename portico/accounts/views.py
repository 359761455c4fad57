"""Public account pages: each parses the form, calls one service, renders."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portico.accounts.forms import (
    PasswordResetForm,
    ProfileForm,
    ResendVerificationForm,
    SignInForm,
    SignUpForm,
)
from portico.accounts.models import User, normalize_email
from portico.accounts.services import (
    user_send_verification,
    user_sign_up,
    user_update_profile,
    user_verify_email,
)
from portico.core.errors import ApplicationError
from portico.core.languages import resolve_language
from portico.core.ratelimit import check_rate, client_ip


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("projects:list")


def sign_in(request: HttpRequest) -> HttpResponse:
    form = SignInForm(request.POST or None, initial={"email": request.GET.get("email", "")})
    unverified_email = ""
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        try:
            check_rate("sign_in", client_ip(request))
            check_rate("sign_in", "email:" + email.lower())
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            user = authenticate(request, email=email, password=form.cleaned_data["password"])
            if user is None:
                form.add_error(None, _("This email and password do not match an account."))
            elif not user.email_verified:
                unverified_email = user.email
                form.add_error(
                    None,
                    _(
                        "Please verify your email address first: follow the link "
                        "in the email we sent you."
                    ),
                )
            else:
                login(request, user)
                return redirect(_safe_next(request))
    return render(
        request,
        "accounts/sign_in.html",
        {
            "form": form,
            "next": request.GET.get("next", ""),
            "unverified_email": unverified_email,
        },
    )


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("projects:list")


def sign_up(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("projects:list")
    initial = {"language": resolve_language(get_language()) or ""}
    form = SignUpForm(request.POST or None, initial=initial)
    error_code = send_again_url = ""
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            check_rate("sign_up", client_ip(request))
            user_sign_up(
                email=data["email"],
                password=data["password"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                language=data["language"],
            )
        except ApplicationError as error:
            error_code = error.code
            # A guard of another app may offer to send something again (an invitation).
            send_again_url = error.details.get("send_again_url", "")
            form.add_error(
                error.details.get("field") if error.details.get("field") in form.fields else None,
                error.message,
            )
        else:
            request.session["signed_up_email"] = normalize_email(data["email"])
            return redirect("accounts:sign-up-done")
    return render(
        request,
        "accounts/sign_up.html",
        {"form": form, "error_code": error_code, "send_again_url": send_again_url},
    )


def sign_up_done(request: HttpRequest) -> HttpResponse:
    return render(
        request, "accounts/sign_up_done.html", {"email": request.session.get("signed_up_email", "")}
    )


def verify_email(request: HttpRequest, token: str) -> HttpResponse:
    # Opening the link verifies: it is what people expect from a verification link, and
    # verifying twice is harmless (the service is idempotent).
    try:
        user = user_verify_email(token=token)
    except ApplicationError as error:
        return render(
            request, "accounts/verify_failed.html", {"message": error.message}, status=400
        )
    messages.success(request, _("Your email address is verified. You can sign in now."))
    if request.user.is_authenticated and request.user.pk == user.pk:
        return redirect("projects:list")
    # Encoded: a "+" in the address would otherwise arrive as a space.
    return redirect(reverse("accounts:sign-in") + "?" + urlencode({"email": user.email}))


def resend_verification(request: HttpRequest) -> HttpResponse:
    form = ResendVerificationForm(
        request.POST or None, initial={"email": request.GET.get("email", "")}
    )
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        try:
            check_rate("verification_resend", client_ip(request))
            check_rate("verification_resend", "email:" + email.lower())
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            user = User.objects.filter(email__iexact=normalize_email(email)).first()
            if user is not None:
                user_send_verification(user=user)
            # The same answer whether or not the address exists: no account enumeration.
            messages.success(
                request,
                _(
                    "If this address has an unverified account, a new "
                    "verification link is on its way."
                ),
            )
            return redirect("accounts:sign-in")
    return render(request, "accounts/resend_verification.html", {"form": form})


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = ProfileForm(
        request.POST or None,
        initial={
            "first_name": user.first_name,
            "last_name": user.last_name,
            "language": user.language,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            user_update_profile(user=user, **form.cleaned_data)
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Your profile is saved."))
            return redirect("accounts:profile")
    return render(request, "accounts/profile.html", {"form": form})


class _PasswordResetView(auth_views.PasswordResetView):
    form_class = PasswordResetForm
    template_name = "accounts/password_reset.html"
    success_url = reverse_lazy("accounts:password-reset-sent")

    def form_valid(self, form):
        try:
            check_rate("password_reset", client_ip(self.request))
            check_rate("password_reset", "email:" + form.cleaned_data["email"].lower())
        except ApplicationError as error:
            form.add_error(None, error.message)
            return self.form_invalid(form)
        return super().form_valid(form)


password_reset = _PasswordResetView.as_view()
