"""The JSON API: one NinjaAPI at ``/api/``, operations under ``/api/v1/``.

Authentication: the browser session (with CSRF on unsafe methods) or a personal API
token sent as ``Authorization: Bearer ...``. Every failure answers with one shape:
``{"errors": [{"code": ..., "message": ..., ...}]}``.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, AuthorizationError, HttpError, ValidationError
from ninja.security import APIKeyCookie, HttpBearer

from portico.core.errors import ApplicationError, PermissionDenied, RateLimited


def _check_admin(user: Any, admin_only: bool) -> Any:
    # Refusing non-admins here, in authentication, answers 403 before the request's
    # body is parsed or validated: a resident learns nothing and costs nothing.
    if admin_only and not user.is_admin:
        raise PermissionDenied()
    return user


class BearerToken(HttpBearer):
    def __init__(self, *, admin_only: bool = False) -> None:
        self.admin_only = admin_only
        super().__init__()

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        from portico.accounts.services import api_token_authenticate

        user = api_token_authenticate(token)
        if user is None:
            return None
        request.user = user
        return _check_admin(user, self.admin_only)


class SessionAuth(APIKeyCookie):
    """The signed-in browser session; unsafe methods need the CSRF token."""

    param_name = "sessionid"

    def __init__(self, *, admin_only: bool = False) -> None:
        self.admin_only = admin_only
        super().__init__(csrf=True)

    def _get_key(self, request: HttpRequest) -> str | None:
        # Without a signed-in session there is nothing for CSRF to protect: the caller
        # is not authenticated (401), whatever the method, instead of failing the CSRF
        # check (403) as an anonymous caller or one with a revoked token would.
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return super()._get_key(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return _check_admin(user, self.admin_only)


# Any signed-in caller; the services decide what they may do.
AUTH = [BearerToken(), SessionAuth()]
# Platform admins only: the default of every operation (secure by default). An
# operation open to more callers says so with ``auth=AUTH`` or its own list.
ADMIN_AUTH = [BearerToken(admin_only=True), SessionAuth(admin_only=True)]


def require_admin(request: HttpRequest) -> Any:
    """The signed-in admin making the request; ``permission_denied`` (403) otherwise."""
    user = request.auth  # type: ignore[attr-defined]
    if user is None or not user.is_authenticated or not user.is_admin:
        raise PermissionDenied()
    return user


def error_body(errors: list[dict[str, Any]]) -> dict[str, Any]:
    return {"errors": errors}


api = NinjaAPI(
    title="Portico API",
    version="1",
    description="Users, groups, projects and invitations of a Portico platform.",
    urls_namespace="api",
    openapi_url="/openapi.json",
    docs_url="/docs",
    auth=ADMIN_AUTH,
)


@api.exception_handler(ApplicationError)
def _application_error(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    response = api.create_response(request, error_body(exc.errors), status=exc.status)
    if isinstance(exc, RateLimited):
        response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(AuthenticationError)
def _not_authenticated(request: HttpRequest, exc: Exception) -> HttpResponse:
    return api.create_response(
        request,
        error_body(
            [{"code": "not_authenticated", "message": _("Sign in or send a valid API token.")}]
        ),
        status=401,
    )


@api.exception_handler(AuthorizationError)
def _forbidden(request: HttpRequest, exc: Exception) -> HttpResponse:
    return api.create_response(
        request, error_body([{"code": "permission_denied", "message": str(exc)}]), status=403
    )


# Where django-ninja says a parameter came from, first in an error's location.
_SOURCES = {"query", "path", "header", "cookie", "form", "file"}


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = []
    for item in exc.errors:
        loc = [str(part) for part in item.get("loc", []) if part not in ("body", "payload")]
        if len(loc) > 1 and loc[0] in _SOURCES:
            loc = loc[1:]  # "form.kind", "query.status", "file.file": the field's name
        errors.append(
            {
                "code": "invalid",
                "message": item.get("msg", "Invalid value."),
                "field": ".".join(loc),
            }
        )
    return api.create_response(request, error_body(errors), status=422)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
    return api.create_response(
        request, error_body([{"code": "not_found", "message": _("Not found.")}]), status=404
    )


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    code = {401: "not_authenticated", 403: "permission_denied", 404: "not_found"}.get(
        exc.status_code, "error"
    )
    return api.create_response(
        request, error_body([{"code": code, "message": str(exc)}]), status=exc.status_code
    )
