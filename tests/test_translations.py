"""Translations: every committed catalog is complete and safe, and the compiled catalogs
really translate pages and emails.

The .po catalogs are committed; the .mo files are not (``make messages`` builds them).
So that ``pytest`` alone works too, this module compiles any missing or stale .mo with
Babel before its tests run.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from django.conf import settings
from django.template.loader import render_to_string
from django.template.utils import get_app_template_dirs
from django.test import Client
from django.utils import translation

from portico.core.mail import render_email

LOCALE_DIR = Path(settings.LOCALE_PATHS[0])
PORTICO_DIR = Path(settings.BASE_DIR) / "portico"
SOURCE_LANGUAGE = "en"  # the msgids are English
TRANSLATED_LANGUAGES = [
    code for code in settings.PORTICO_LANGUAGE_CODES if code.split("-")[0].lower() != "en"
]


def _po_path(language: str) -> Path:
    return LOCALE_DIR / translation.to_locale(language) / "LC_MESSAGES" / "django.po"


def _read(path: Path):
    with path.open("rb") as fileobj:
        return read_po(fileobj, locale=path.parent.parent.name)


CATALOGS = sorted(LOCALE_DIR.glob("*/LC_MESSAGES/django.po"))


# --- The catalogs -------------------------------------------------------------------------


def test_every_platform_language_has_a_catalog():
    assert TRANSLATED_LANGUAGES, "the platform has no language besides English"
    for language in TRANSLATED_LANGUAGES:
        # Django looks for `nl-be` in the locale directory `nl_BE`.
        assert _po_path(language).is_file(), (
            f"no catalog for {language}: run scripts/update-translations"
        )


@pytest.mark.parametrize("path", CATALOGS, ids=lambda p: p.parent.parent.name)
def test_catalog_header(path):
    catalog = _read(path)
    assert str(catalog.locale) == path.parent.parent.name
    headers = dict(catalog.mime_headers)
    assert headers.get("Language") == path.parent.parent.name
    assert "nplurals=2; plural=(n != 1);" in headers.get("Plural-Forms", "")
    assert not catalog.fuzzy, "the header is marked fuzzy: Babel would not compile the catalog"


# Python %-format placeholders (``%(name)s``, ``%s``, ``%(field)r``); ``%%`` is a literal.
_PERCENT = re.compile(
    r"%(?:\((?P<name>[^)]*)\))?"  # an optional name
    r"[#0 +-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?"  # flags, width, precision
    r"(?P<type>[diouxXeEfFgGcrsa%])"
)
_BRACE = re.compile(r"(?<!\{)\{(?!\{)([^{}]*)\}")
_TAG = re.compile(r"<[^<>]+>")


def _placeholders(text: str, flags: set[str]) -> set[str]:
    found = {m.group(0) for m in _PERCENT.finditer(text) if m.group("type") != "%"}
    if "python-brace-format" in flags:
        found |= {"{" + field + "}" for field in _BRACE.findall(text)}
    return found


def _forms(message) -> list[tuple[str, str]]:
    """(source, translation) pairs: one per plural form for plural messages."""
    if isinstance(message.id, str):
        return [(message.id, message.string)]
    singular, plural = message.id[0], message.id[1]
    return [(singular if i == 0 else plural, s) for i, s in enumerate(message.string)]


def _label(message) -> str:
    return repr(message.id if isinstance(message.id, str) else message.id[0])


@pytest.mark.parametrize("path", CATALOGS, ids=lambda p: p.parent.parent.name)
def test_catalog_is_complete_and_keeps_placeholders(path):
    catalog = _read(path)
    problems = []
    for message in catalog:
        if not message.id:
            continue  # the header
        if message.fuzzy:
            problems.append(f"{_label(message)}: fuzzy")
        if not isinstance(message.id, str) and len(message.string) != catalog.num_plurals:
            problems.append(f"{_label(message)}: needs {catalog.num_plurals} plural forms")
        for source, text in _forms(message):
            if not text:
                problems.append(f"{_label(message)}: untranslated")
                continue
            if _placeholders(source, message.flags) != _placeholders(text, message.flags):
                problems.append(f"{_label(message)}: placeholders differ in {text!r}")
            if sorted(_TAG.findall(source)) != sorted(_TAG.findall(text)):
                problems.append(f"{_label(message)}: HTML differs in {text!r}")
            # Templates put some translations in JavaScript string literals
            # (onsubmit="return confirm('…')"): a straight apostrophe would end the string.
            if "'" in text and "'" not in source:
                problems.append(f"{_label(message)}: straight apostrophe (use \u2019) in {text!r}")
    # Babel's own checks, the ones `make messages` (pybabel compile) reports.
    for message, errors in catalog.check():
        problems.extend(f"{_label(message)}: {error}" for error in errors)
    assert not problems, f"{path}:\n" + "\n".join(problems)


# --- The compiled catalogs at work --------------------------------------------------------


# Strings known to be on the pages, in each language.
EXPECTED = {
    "nl-BE": {
        "Sign in": "Aanmelden",
        "Projects": "Projecten",
        "Create an account": "Account aanmaken",
    },
    "fr-BE": {
        "Sign in": "Se connecter",
        "Projects": "Projets",
        "Create an account": "Créer un compte",
    },
}


@pytest.mark.parametrize("language", TRANSLATED_LANGUAGES)
def test_gettext_uses_the_catalog(language):
    expected = EXPECTED.get(language)
    if expected is None:
        pytest.skip(f"no known strings for {language}")
    with translation.override(language.lower()):
        for source, text in expected.items():
            assert translation.gettext(source) == text


@pytest.mark.parametrize("language", TRANSLATED_LANGUAGES)
@pytest.mark.parametrize(
    ("url", "strings"),
    [("/", ["Projects", "Sign in"]), ("/accounts/sign-in/", ["Sign in", "Create an account"])],
)
def test_pages_are_translated(db, language, url, strings):
    expected = EXPECTED.get(language)
    if expected is None:
        pytest.skip(f"no known strings for {language}")
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language.lower()
    with translation.override(language.lower()):
        response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert f'lang="{language.lower()}"' in html
    for source in strings:
        assert expected[source] in html, f"{expected[source]!r} is not on {url} in {language}"


VERIFY_CONTEXT = {"name": "X", "link": "http://x", "days": 3}


def _verify_email(language: str):
    return render_email(
        to=["x@example.com"],
        template="accounts/email/verify",
        context=VERIFY_CONTEXT,
        language=language,
    )


@pytest.mark.parametrize("language", TRANSLATED_LANGUAGES)
def test_verification_email_is_translated(language):
    english = _verify_email(SOURCE_LANGUAGE)
    message = _verify_email(language)
    assert message.subject
    assert message.subject != english.subject
    assert settings.PORTICO_PLATFORM_NAME in message.subject
    assert message.body != english.body
    assert "http://x" in message.body
    html = message.alternatives[0][0]
    assert html != english.alternatives[0][0]
    assert "http://x" in html


def test_verification_email_plural_forms():
    expected = {
        "nl-BE": ("De link is 1 dag geldig.", "De link is 3 dagen geldig."),
        "fr-BE": ("Le lien est valable 1 jour.", "Le lien est valable 3 jours."),
    }
    for language, (one, three) in expected.items():
        if language not in TRANSLATED_LANGUAGES:
            continue
        single = render_email(
            to=["x@example.com"],
            template="accounts/email/verify",
            context={**VERIFY_CONTEXT, "days": 1},
            language=language,
        )
        assert one in single.body
        assert three in _verify_email(language).body


def _email_subject_templates() -> list[str]:
    """Every Portico email's subject template (``<base>_subject.txt``), by template name."""
    roots = [Path(d) for engine in settings.TEMPLATES for d in engine.get("DIRS", [])]
    roots += [Path(d) for d in get_app_template_dirs("templates")]
    roots = [root for root in roots if root.is_relative_to(PORTICO_DIR)]  # not Django's own
    names = {str(p.relative_to(root)) for root in roots for p in root.rglob("*_subject.txt")}
    return sorted(names)


@pytest.mark.parametrize("language", TRANSLATED_LANGUAGES)
@pytest.mark.parametrize("template", _email_subject_templates())
def test_every_email_subject_is_translated(language, template):
    context = {"platform_name": settings.PORTICO_PLATFORM_NAME}
    with translation.override(SOURCE_LANGUAGE):
        english = render_to_string(template, context).strip()
    with translation.override(language):
        subject = render_to_string(template, context).strip()
    assert subject
    assert subject != english, f"{template} is not translated into {language}"
