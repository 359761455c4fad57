"""The email providers' tracking webhooks (django-anymail), mounted at ``/anymail/``.

Anymail accepts unauthenticated posts when no ``WEBHOOK_SECRET`` is configured (it only
warns), so every view here answers 404 until a secret is set: an installation without
one has no webhook at all. The secret is read at each request, like anymail reads it, so
a change of settings (and a test's override) takes effect without reloading the URLs.

Only the tracking webhooks are mounted (``<esp>/tracking/``); Portico receives no
inbound mail.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from anymail import urls as anymail_urls
from anymail.utils import get_anymail_setting
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern

app_name = anymail_urls.app_name  # "anymail": reverse("anymail:postmark_tracking_webhook")


def webhooks_enabled() -> bool:
    """Whether a webhook secret is configured (``ANYMAIL["WEBHOOK_SECRET"]``)."""
    return bool(get_anymail_setting("webhook_secret", default=""))


def _require_secret(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    # functools.wraps copies the view's attributes too (csrf_exempt, login_not_required).
    @wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not webhooks_enabled():
            raise Http404
        return view(request, *args, **kwargs)

    return guarded


def _is_tracking(pattern: URLPattern) -> bool:
    return (pattern.name or "").endswith("_tracking_webhook")


urlpatterns = [
    URLPattern(p.pattern, _require_secret(p.callback), p.default_args, p.name)
    for p in anymail_urls.urlpatterns
    if isinstance(p, URLPattern) and _is_tracking(p)
]
