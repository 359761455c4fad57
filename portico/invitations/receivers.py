"""Interface for the email providers' tracking webhooks (django-anymail's ``tracking``
signal): like a view, it reads the event and calls one service."""

from __future__ import annotations

from typing import Any

from anymail.signals import AnymailTrackingEvent, EventType
from django.utils import timezone

from portico.invitations.services.deliverability import invitation_record_bounce

# The events that say an email did not reach its recipient. Not among them: "complained"
# (the recipient got the email and marked it as spam: the address works), "deferred"
# (the provider is still trying), "unsubscribed", and the engagement events.
UNDELIVERED_EVENTS = frozenset({EventType.BOUNCED, EventType.REJECTED, EventType.FAILED})

_REF_KEYS = {"portico_message", "portico-message", "x-portico-message"}


def message_ref(event: AnymailTrackingEvent) -> str | None:
    """The email's ``X-Portico-Message`` value, when the provider gives it back: as
    metadata (anymail's backends send ``message.metadata`` to the provider, which returns
    it with each event), or among the original headers of an Amazon SES notification.
    None otherwise: the bounce is then matched by address."""
    for key, value in (event.metadata or {}).items():
        if str(key).lower() in _REF_KEYS and value:
            return str(value)
    esp_event = event.esp_event
    if isinstance(esp_event, dict):
        mail = esp_event.get("mail")
        headers = mail.get("headers") if isinstance(mail, dict) else None
        for header in headers if isinstance(headers, list) else []:
            if isinstance(header, dict) and str(header.get("name", "")).lower() in _REF_KEYS:
                return str(header.get("value") or "") or None
    return None


def record_undelivered(
    sender: Any, event: AnymailTrackingEvent, esp_name: str, **kwargs: Any
) -> None:
    """Receiver of ``anymail.signals.tracking``: a bounce, rejection or failure marks the
    invitation undeliverable; every other event is ignored. An error propagates, and
    anymail answers 500, which providers take as "try again later"."""
    if event.event_type not in UNDELIVERED_EVENTS or not event.recipient:
        return
    detail = event.mta_response or event.description or event.reject_reason or ""
    invitation_record_bounce(
        recipient=event.recipient,
        reason=f"{detail} ({esp_name})" if detail else f"({esp_name})",
        when=event.timestamp or timezone.now(),
        message_ref=message_ref(event),
        event=event.event_type,
    )
