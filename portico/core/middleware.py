"""Refuses oversized uploads before Django reads them."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _


class UploadSizeLimitMiddleware:
    """A multipart request larger than ``PORTICO_UPLOAD_MAX_MB`` (plus room for the other
    form fields) is answered 413 from its Content-Length header, before any of its body
    is read or written to disk. The services check the file's own size too."""

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
                return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
