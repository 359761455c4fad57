from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def platform(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    return {
        "platform_name": settings.PORTICO_PLATFORM_NAME,
        "mailbox_enabled": settings.PORTICO_MAILBOX,
        "is_platform_admin": bool(user and user.is_authenticated and user.is_admin),
    }
