"""Emails: the subject and the plain-text part are plain text, the HTML part is HTML."""

from __future__ import annotations

from django.core import mail

from portico.invitations.services.create import (
    InviteOptions,
    invitation_create_batch,
    parse_typed_emails,
)
from tests.conftest import make_user


def test_the_subject_and_text_keep_apostrophes_and_ampersands_the_html_escapes_them(
    db, django_capture_on_commit_callbacks
):
    inviter = make_user(
        "sean.obrien@city.example", is_admin=True, first_name="Seán", last_name="O'Brien"
    )
    with django_capture_on_commit_callbacks(execute=True):
        invitation_create_batch(
            actor=inviter,
            rows=parse_typed_emails("Zoë D'Hondt <zoe@example.org>"),
            options=InviteOptions(message="Tom & Jerry's garden <b>opens</b> Monday"),
        )

    (email,) = mail.outbox
    assert email.subject == "Seán O'Brien invites you to Portico"
    assert "Hello Zoë," in email.body
    assert "Seán O'Brien invites you to join Portico." in email.body
    assert "Tom & Jerry's garden opens Monday" in email.body
    assert "&#x27;" not in email.body
    assert "&amp;" not in email.body
    ((html, mimetype),) = email.alternatives
    assert mimetype == "text/html"
    assert "Seán O&#x27;Brien invites you to join Portico." in html
    assert "Tom &amp; Jerry's garden <b>opens</b> Monday" in html  # the sanitised message
    assert "O'Brien" not in html


def test_a_verification_email_keeps_the_platform_name_as_typed(db, settings):
    from portico.core.mail import render_email

    settings.PORTICO_PLATFORM_NAME = "Town & Gown's Portal"
    email = render_email(
        to=["ann@example.org"],
        template="accounts/email/verify",
        context={"name": "Ann <Smith>", "link": "http://testserver/v?a=1&b=2", "days": 3},
        language="en",
    )

    assert email.subject == "Verify your email address for Town & Gown's Portal"
    assert "Hello Ann <Smith>," in email.body
    assert "http://testserver/v?a=1&b=2" in email.body
    ((html, _mimetype),) = email.alternatives
    assert "Hello Ann &lt;Smith&gt;," in html
    assert "Town &amp; Gown&#x27;s Portal" in html
