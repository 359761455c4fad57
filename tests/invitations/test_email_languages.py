"""The invitation and the reminder emails, in each platform language.

The catalogs (.po) are written by translators and compiled to .mo by ``make messages``
(``pybabel compile``); a session fixture here compiles any missing or stale .mo first,
so that ``pytest`` alone tests the current translations.
"""

from __future__ import annotations

import html as html_lib
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from portico.invitations.emails import build_message, invitation_link
from portico.invitations.models import Invitation, InvitationMessage
from portico.invitations.services.create import (
    InviteOptions,
    invitation_create_batch,
    parse_typed_emails,
)
from portico.invitations.services.jobs import invitations_send_due_reminders

LOCALE_DIR = Path(settings.LOCALE_PATHS[0])
LANGUAGES = ["en", "nl-BE", "fr-BE"]
TRANSLATED = [code for code in LANGUAGES if code != "en"]
KINDS = [InvitationMessage.Kind.INVITATION, InvitationMessage.Kind.REMINDER]
INVITEE = "Nina"
INVITER = "Ada Admin"


@pytest.fixture
def emails(admin, django_capture_on_commit_callbacks):
    """{(language, kind): (invitation, EmailMultiAlternatives)} for every language and
    both emails; the reminder is queued by the real reminder sweep, 3 days later."""
    created = timezone.now()
    invitations = {}
    for language in LANGUAGES:
        slug = language.lower()
        result = invitation_create_batch(
            actor=admin,
            rows=parse_typed_emails(f"{INVITEE} Noord <nina.{slug}@mail.example>"),
            options=InviteOptions(language=language),
        )
        invitations[language] = Invitation.objects.get(pk=result.invitation_ids[0])
    later = created + timedelta(days=3, minutes=1)
    assert invitations_send_due_reminders(now=later) == len(LANGUAGES)

    built = {}
    for message in InvitationMessage.objects.select_related("invitation__inviter"):
        invitation = message.invitation
        when = invitation.sent_at if message.kind == InvitationMessage.Kind.INVITATION else later
        built[(invitation.language, message.kind)] = (invitation, build_message(message, now=when))
    assert len(built) == len(LANGUAGES) * len(KINDS)
    return built


def _html(message) -> str:
    (content, mimetype), *_ = message.alternatives
    assert mimetype == "text/html"
    return content


def _visible_text(html: str) -> str:
    html = re.sub(r"<(style|head)\b.*?</\1>", " ", html, flags=re.S)
    return html_lib.unescape(re.sub(r"<[^>]+>", " ", html))


def _sentences(text: str, invitation: Invitation) -> set[str]:
    """The template's own sentences: what is left once names and the link are removed."""
    for value in (
        invitation_link(invitation),
        INVITER,
        INVITEE,
        settings.PORTICO_PLATFORM_NAME,
    ):
        text = text.replace(value, "\n")
    parts = re.split(r"[.,:;!?\n]+", text)
    return {" ".join(p.split()) for p in parts if re.search(r"[A-Za-z]{2,}", p)}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_email_has_a_button_and_a_plain_text_alternative(emails, language, kind):
    invitation, message = emails[(language, kind)]
    link = invitation_link(invitation)
    assert re.fullmatch(r"https?://[^/]+/invite/[0-9A-Z]{14}/", link)
    assert message.to == [invitation.email]
    assert message.from_email == settings.DEFAULT_FROM_EMAIL
    assert message.content_subtype == "plain"
    assert link in message.body  # the plain-text alternative carries the link
    assert "<" not in message.body  # and no markup
    html = _html(message)
    # One clear button, and the link spelled out for clients that hide buttons.
    buttons = re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', html)
    assert [href for href, _label in buttons] == [link]
    assert html.count(link) == 2
    assert f'lang="{language.lower()}"' in html.lower()
    subject_and_bodies = (message.subject, message.body, _visible_text(html))
    for part in subject_and_bodies:
        assert settings.PORTICO_PLATFORM_NAME in part
    for part in subject_and_bodies[1:]:
        assert INVITER in part
        assert INVITEE in part
    days = "30" if kind == InvitationMessage.Kind.INVITATION else "27"
    assert days in message.body
    assert days in html


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("language", TRANSLATED)
def test_the_email_is_translated(emails, language, kind):
    _invitation, message = emails[(language, kind)]
    english_invitation, english = emails[("en", kind)]
    assert message.subject != english.subject
    assert message.body != english.body
    assert _html(message) != _html(english)

    rendered = {
        "subject": message.subject,
        "text": message.body,
        "html": _visible_text(_html(message)),
    }
    source = {
        "subject": english.subject,
        "text": english.body,
        "html": _visible_text(_html(english)),
    }
    untranslated = []
    for part, text in rendered.items():
        sentences = _sentences(source[part], english_invitation)
        assert len(sentences) >= (1 if part == "subject" else 4), sentences
        for sentence in sentences:
            if sentence in text:
                untranslated.append(f"{part}: {sentence!r}")
    assert not untranslated, f"English left in the {language} {kind} email: {untranslated}"


def test_the_invitation_email_speaks_each_language(emails):
    expected = {
        "nl-BE": ("Ada Admin nodigt u uit", "Uitnodiging aanvaarden", "30 dagen"),
        "fr-BE": ("Ada Admin vous invite", "Accepter l\u2019invitation", "30 jours"),
    }
    for language, phrases in expected.items():
        _invitation, message = emails[(language, InvitationMessage.Kind.INVITATION)]
        html = _visible_text(_html(message))
        assert phrases[0] in message.subject
        for phrase in (phrases[0], phrases[2]):
            assert phrase in message.body
            assert phrase in html
        assert phrases[1] in html


def test_the_reminder_says_how_many_days_are_left_in_each_language(emails):
    expected = {"en": "27 days", "nl-BE": "27 dagen", "fr-BE": "27 jours"}
    for language, phrase in expected.items():
        _invitation, message = emails[(language, InvitationMessage.Kind.REMINDER)]
        assert phrase in message.body
        assert phrase in _visible_text(_html(message))
