"""The platform's languages, in the platform's spelling (``nl-BE``), matched whatever
the case (``nl-be`` is ``nl-BE``)."""

from __future__ import annotations

from django.conf import settings


def platform_languages() -> list[str]:
    return list(settings.PORTICO_LANGUAGE_CODES)


def default_language() -> str:
    return settings.PORTICO_LANGUAGE_CODES[0]


def resolve_language(code: str | None) -> str | None:
    """The platform's spelling of ``code``, or None when it is not a platform language."""
    wanted = (code or "").strip().replace("_", "-").lower()
    for known in settings.PORTICO_LANGUAGE_CODES:
        if known.lower() == wanted:
            return known
    return None


def language_or_default(code: str | None) -> str:
    """The platform's spelling of ``code``; the platform's first language when empty.
    Raises ``unknown_locale`` (422) for a language the platform does not have."""
    if not code:
        return default_language()
    resolved = resolve_language(code)
    if resolved is None:
        from django.utils.translation import gettext as _

        from portico.core.errors import ApplicationError

        raise ApplicationError(
            "unknown_locale",
            _("%(value)s is not a language of this platform.") % {"value": code},
            field="language",
            value=code,
        )
    return resolved


def language_choices() -> list[tuple[str, str]]:
    names = dict(settings.LANGUAGES)
    return [(code, names.get(code.lower(), code)) for code in settings.PORTICO_LANGUAGE_CODES]


class LanguageResolver:
    """:func:`resolve_language` with the settings read once, for loops over many rows."""

    def __init__(self) -> None:
        self._known = {code.lower(): code for code in settings.PORTICO_LANGUAGE_CODES}

    def resolve(self, code: str | None) -> str | None:
        return self._known.get((code or "").strip().replace("_", "-").lower())
