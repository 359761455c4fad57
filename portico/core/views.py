from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, HttpResponseServerError
from django.shortcuts import render
from django.template import loader
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from portico.core.languages import resolve_language


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """The language switcher: remembers the choice in a cookie and, for a signed-in
    person, in their profile (which then decides their pages and emails)."""
    next_url = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = "/"
    response = HttpResponseRedirect(next_url)
    language = resolve_language(request.POST.get("language"))
    if language:
        if request.user.is_authenticated:
            from portico.accounts.services import user_update_profile

            user = request.user
            user_update_profile(
                user=user, first_name=user.first_name, last_name=user.last_name, language=language
            )
        translation.activate(language.lower())
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME, language.lower(), max_age=365 * 86400, samesite="Lax"
        )
    return response


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "403.html", status=403)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # Like Django's own handler: no request context, since whatever failed (the database,
    # a context processor) may fail again. The page is still in the request's language.
    return HttpResponseServerError(loader.get_template("500.html").render())
