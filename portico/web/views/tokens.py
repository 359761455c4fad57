from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portico.accounts.models import ApiToken, User, normalize_email
from portico.accounts.services import api_token_create, api_token_revoke
from portico.core.errors import ApplicationError
from portico.core.permissions import admin_required
from portico.web.forms import ApiTokenForm


@admin_required
def token_list(request: HttpRequest) -> HttpResponse:
    tokens = ApiToken.objects.select_related("user", "created_by")
    # The secret of a token created just now is shown once, then forgotten.
    new_token = request.session.pop("new_api_token", None)
    return render(
        request,
        "web/api_tokens.html",
        {
            "tokens": tokens,
            "form": ApiTokenForm(),
            "new_token": new_token,
        },
    )


@admin_required
@require_POST
def token_create_view(request: HttpRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST)
    if form.is_valid():
        email = form.cleaned_data["email"]
        owner = request.user
        if email:
            owner = User.objects.filter(email__iexact=normalize_email(email)).first()
        if owner is None:
            messages.error(request, _("No account uses this email address."))
        else:
            try:
                token, raw = api_token_create(
                    actor=request.user, user=owner, name=form.cleaned_data["name"]
                )
            except ApplicationError as error:
                messages.error(request, error.message)
            else:
                request.session["new_api_token"] = {"name": token.name, "secret": raw}
    else:
        messages.error(request, _("Give the token a name."))
    return redirect("web:api-tokens")


@admin_required
@require_POST
def token_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        token = api_token_revoke(actor=request.user, token_id=pk)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Token “%(name)s” revoked.") % {"name": token.name})
    return redirect("web:api-tokens")
