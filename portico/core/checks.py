"""System checks for deployments (`manage.py check --deploy`)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def check_secret_keys(app_configs, **kwargs):
    """The development key signs sessions and derives invitation tokens; in production it
    would let anyone who reads the code forge both."""
    errors = []
    if settings.SECRET_KEY == settings.DEVELOPMENT_SECRET_KEY:
        errors.append(
            Error(
                "SECRET_KEY is the development key.",
                hint="Set SECRET_KEY (and optionally PORTICO_TOKEN_KEY) in the environment.",
                id="portico.E001",
            )
        )
    return errors
