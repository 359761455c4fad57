"""Email: templated messages rendered in the recipient's language, sent by the worker
after the data they describe is committed, and the dev mailbox backend.

A message is named by a template base (``accounts/email/verify``) that has three files:
``<base>_subject.txt``, ``<base>.txt`` and ``<base>.html``. The subject and the text part
are plain text, rendered without HTML escaping (``O'Brien`` stays ``O'Brien``); only the
HTML part is escaped. Contexts travel through the task queue, so they hold JSON values
only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.template import Context
from django.template.loader import get_template, render_to_string
from django.utils import translation


def _render_plain_text(template_name: str, context: dict[str, Any]) -> str:
    """Render a Django template as plain text: variables are not HTML-escaped."""
    template = get_template(template_name).template  # the engine's own Template
    return template.render(Context(context, autoescape=False))


def render_email(
    *, to: Sequence[str], template: str, context: dict[str, Any], language: str
) -> EmailMultiAlternatives:
    """Build the message (plain text with an HTML alternative) in ``language``."""
    full_context = {
        "platform_name": settings.PORTICO_PLATFORM_NAME,
        "base_url": settings.BASE_URL,
        **context,
    }
    with translation.override(language):
        subject = _render_plain_text(f"{template}_subject.txt", full_context)
        text = _render_plain_text(f"{template}.txt", full_context)
        html = render_to_string(f"{template}.html", full_context)
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=list(to),
    )
    message.attach_alternative(html, "text/html")
    return message


def send_email_after_commit(
    *, to: Sequence[str], template: str, context: dict[str, Any], language: str
) -> None:
    """Queue the message for the worker once the current transaction commits.

    Nothing is sent if the transaction rolls back; outside a transaction the task is
    queued at once.
    """
    from portico.core.tasks import send_templated_email

    recipients = list(to)
    transaction.on_commit(
        lambda: send_templated_email.enqueue(
            to=recipients, template=template, context=context, language=language
        )
    )


class CaptureBackend(BaseEmailBackend):
    """Keeps messages in the database for the dev mailbox instead of delivering them."""

    def send_messages(self, email_messages: Sequence[Any]) -> int:
        from portico.core.models import CapturedEmail

        count = 0
        for message in email_messages:
            html = ""
            for content, mimetype in getattr(message, "alternatives", []):
                if mimetype == "text/html":
                    html = content
            CapturedEmail.objects.create(
                from_email=message.from_email,
                to="\n".join(message.recipients()),
                subject=message.subject,
                body_text=message.body,
                body_html=html,
                headers=dict(message.extra_headers),
            )
            count += 1
        return count
