"""Background tasks of the core: thin wrappers that call one function."""

from __future__ import annotations

from typing import Any

from django.tasks import task

from portico.core.mail import render_email


@task()
def send_templated_email(
    *, to: list[str], template: str, context: dict[str, Any], language: str
) -> int:
    """Render and send one message; returns the number of messages sent (0 or 1)."""
    return render_email(to=to, template=template, context=context, language=language).send()
