"""Refuses oversized uploads before Django reads them."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.utils.http import escape_leading_slashes
from django.utils.translation import gettext as _


class UploadSizeLimitMiddleware:
    """A multipart request larger than ``PORTICO_UPLOAD_MAX_MB`` (plus room for the other
    form fields) is refused from its Content-Length header, before any of its body is
    read or written to disk: the API answers 413 with the error body; a page is sent
    back to itself (303) with the message, in the person's language, above its form. The
    services check the file's own size too.

    Placed after the session, language and messages middleware (none of which reads a
    body) and before CSRF's, which would read it."""

    SLACK = 1024 * 1024

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.content_type == "multipart/form-data":
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            limit = settings.PORTICO_UPLOAD_MAX_MB * 1024 * 1024
            if length > limit + self.SLACK:
                message = _("The file is larger than %(mb)s MB.") % {
                    "mb": settings.PORTICO_UPLOAD_MAX_MB
                }
                body = {
                    "errors": [
                        {
                            "code": "file_too_large",
                            "message": message,
                            "limit_mb": settings.PORTICO_UPLOAD_MAX_MB,
                        }
                    ]
                }
                if request.path.startswith("/api/"):
                    return JsonResponse(body, status=413)
                messages.error(request, message)
                # Escaped as CommonMiddleware does: "//evil.example/x" would otherwise
                # send the browser to another site (nothing has resolved the path yet).
                back = escape_leading_slashes(request.get_full_path())
                return HttpResponseRedirect(back, status=303)
        return self.get_response(request)
