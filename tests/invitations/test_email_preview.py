"""A preview of the invitation email before sending: the function that renders it
(:func:`portico.invitations.emails.preview_email`), the "Preview the email" action of
Invitations → Invite people and ``POST /api/v1/invitations/preview``.

A preview is the email that is sent, in the chosen language, with the personal message
sanitised as when sending and the admin as the inviter; it creates nothing, sends
nothing and carries no working token."""

from __future__ import annotations

import html as html_lib
import re

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client

from portico.core.errors import ApplicationError
from portico.invitations import tokens
from portico.invitations.emails import PREVIEW_TOKEN, build_message, preview_email
from portico.invitations.models import Invitation, InvitationMessage
from portico.invitations.selectors import canonical_token
from portico.invitations.services.create import (
    InviteOptions,
    invitation_create_batch,
    parse_typed_emails,
)
from tests.conftest import PASSWORD

PAGE = "/manage/invitations/invite/"
PREVIEW_PAGE = "/manage/invitations/invite/preview/"
API = "/api/v1/invitations/preview"
HOSTILE = "<p>Welcome <em>aboard</em>!</p><script>alert('x')</script>"


def _html(email) -> str:
    return email.alternatives[0].content


def _form(**values) -> dict:
    return {"emails": "", "language": "en", "message": "", **values}


@pytest.fixture
def no_invitation_is_created(db):
    yield
    assert not Invitation.objects.exists()
    assert not InvitationMessage.objects.exists()
    assert mail.outbox == []


# The rendering -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "subject"),
    [
        ("en", "Ada Admin invites you to Portico"),
        ("nl-BE", "Ada Admin nodigt u uit op Portico"),
        ("fr-BE", "Ada Admin vous invite sur Portico"),
    ],
)
def test_the_preview_is_in_the_chosen_language(admin, no_invitation_is_created, language, subject):
    email = preview_email(inviter=admin, language=language)

    assert email.subject == subject


def test_the_language_is_matched_whatever_its_case(admin, no_invitation_is_created):
    assert preview_email(inviter=admin, language="NL_be").subject == (
        "Ada Admin nodigt u uit op Portico"
    )


def test_without_a_language_the_preview_is_in_the_platforms_first(admin, settings):
    settings.PORTICO_LANGUAGE_CODES = ["fr-BE", "en"]

    assert preview_email(inviter=admin, language=None).subject == (
        "Ada Admin vous invite sur Portico"
    )


def test_an_unknown_language_is_refused(admin):
    with pytest.raises(ApplicationError) as caught:
        preview_email(inviter=admin, language="de")

    assert caught.value.code == "unknown_locale"
    assert caught.value.status == 422


def test_the_message_is_sanitised_as_when_sending(admin, no_invitation_is_created):
    email = preview_email(inviter=admin, language="en", message=HOSTILE)

    assert "<em>aboard</em>" in _html(email)
    assert "<script" not in _html(email)
    assert "alert" not in _html(email)
    assert "Welcome aboard!" in email.body
    assert "<em>" not in email.body


def test_the_preview_names_the_admin_and_greets_the_sample_invitee(admin):
    email = preview_email(inviter=admin, language="nl-BE", first_name="Nina", last_name="Peeters")

    assert "Ada Admin nodigt u uit" in email.body
    assert "Beste Nina," in email.body
    assert "Beste Nina," in _html(email)


def test_the_preview_is_the_email_that_is_sent(admin, django_capture_on_commit_callbacks):
    """Same templates, same context: only the link differs (a placeholder, not a token)."""
    with django_capture_on_commit_callbacks(execute=False):
        result = invitation_create_batch(
            actor=admin,
            rows=parse_typed_emails("Nina Peeters <nina@mail.example>"),
            options=InviteOptions(language="nl-BE", message=HOSTILE, send_email=False),
        )
    invitation = Invitation.objects.get(pk=result.invitation_ids[0])
    sent = build_message(
        InvitationMessage(invitation=invitation, kind=InvitationMessage.Kind.INVITATION),
        now=invitation.created_at,
    )
    preview = preview_email(
        inviter=admin,
        language="nl-BE",
        message=HOSTILE,
        first_name="Nina",
        now=invitation.created_at,
    )

    assert preview.subject == sent.subject
    assert preview.body == sent.body.replace(invitation.token, PREVIEW_TOKEN)
    assert _html(preview) == _html(sent).replace(invitation.token, PREVIEW_TOKEN)


def test_the_preview_link_carries_no_working_token(admin, client, no_invitation_is_created):
    email = preview_email(inviter=admin, language="en")
    link = f"{settings.BASE_URL}/invite/{PREVIEW_TOKEN}/"

    assert link in email.body
    assert not tokens.is_well_formed(tokens.normalize(PREVIEW_TOKEN))
    with pytest.raises(ApplicationError) as caught:
        canonical_token(PREVIEW_TOKEN)
    assert caught.value.code == "token_mistyped"
    # Opening the link shows no invitation to accept.
    response = client.get(f"/invite/{PREVIEW_TOKEN}/")
    assert b"Accept the invitation" not in response.content


# The page ----------------------------------------------------------------------------


def test_the_invite_page_offers_a_preview(admin_client):
    response = admin_client.get(PAGE)

    assert f'formaction="{PREVIEW_PAGE}#preview"'.encode() in response.content


def test_the_page_shows_the_email_in_the_chosen_language(admin_client, no_invitation_is_created):
    response = admin_client.post(
        PREVIEW_PAGE,
        _form(
            emails="Nina Peeters <nina@mail.example>, bob@mail.example",
            language="nl-BE",
            message=HOSTILE,
        ),
    )

    assert response.status_code == 200
    page = response.content.decode()
    subject = re.search(r'data-testid="preview-subject">([^<]*)<', page).group(1)
    assert html_lib.unescape(subject) == "Ada Admin nodigt u uit op Portico"
    text = html_lib.unescape(re.search(r'data-testid="preview-text">(.*?)</pre>', page, re.S)[1])
    assert "Beste Nina," in text
    assert "Welcome aboard!" in text
    assert PREVIEW_TOKEN in text
    srcdoc = html_lib.unescape(re.search(r'srcdoc="([^"]*)"', page).group(1))
    assert "<em>aboard</em>" in srcdoc
    assert "<script" not in srcdoc
    # The email's HTML is only ever in the sandboxed frame, never in the page itself.
    assert "<em>aboard</em>" not in page
    assert "force_escape" not in page  # the template's comment stays a comment
    assert re.search(r'<iframe[^>]*sandbox="allow-popups allow-popups-to-escape-sandbox"', page)


def test_the_form_comes_back_as_it_was_typed(admin_client, no_invitation_is_created):
    response = admin_client.post(
        PREVIEW_PAGE,
        _form(emails="nina@mail.example", language="fr-BE", message="Bonjour", is_admin="on"),
    )

    form = response.context["form"]
    assert not form.is_bound
    assert form.initial["emails"] == "nina@mail.example"
    assert form.initial["language"] == "fr-BE"
    assert form.initial["message"] == "Bonjour"
    assert form.initial["is_admin"] is True
    assert form.initial["moderator"] is False
    page = response.content.decode()
    assert '<option value="fr-BE" selected>' in page
    assert "nina@mail.example</textarea>" in page


def test_the_preview_needs_no_address(admin_client, no_invitation_is_created):
    response = admin_client.post(PREVIEW_PAGE, _form(language="en"))

    assert response.status_code == 200
    assert response.context["preview"].subject == "Ada Admin invites you to Portico"


def test_the_page_reports_an_unknown_language(admin_client, no_invitation_is_created):
    response = admin_client.post(PREVIEW_PAGE, _form(language="de"))

    assert response.status_code == 200
    assert response.context["preview"] is None
    assert [e["code"] for e in response.context["errors"]] == ["unknown_locale"]


def test_the_preview_page_is_post_only(admin_client):
    assert admin_client.get(PREVIEW_PAGE).status_code == 405


def test_only_admins_may_preview_on_the_page(resident_client, moderator_client):
    assert resident_client.post(PREVIEW_PAGE, _form()).status_code == 403
    assert moderator_client.post(PREVIEW_PAGE, _form()).status_code == 403


def test_a_visitor_is_sent_to_sign_in(anonymous_client):
    response = anonymous_client.post(PREVIEW_PAGE, _form())

    assert response.status_code == 302
    assert "next=" in response["Location"]


def test_the_preview_form_is_protected_against_csrf(admin):
    client = Client(enforce_csrf_checks=True)
    assert client.login(email=admin.email, password=PASSWORD)

    assert client.post(PREVIEW_PAGE, _form()).status_code == 403
    token = client.get(PAGE).context["csrf_token"]
    assert client.post(PREVIEW_PAGE, _form(csrfmiddlewaretoken=token)).status_code == 200


# The API -----------------------------------------------------------------------------


def test_the_api_previews_the_email(admin_client, no_invitation_is_created):
    response = admin_client.post(
        API,
        {"language": "fr-BE", "message": HOSTILE, "first_name": "Nina", "last_name": "Peeters"},
        content_type="application/json",
    )

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"subject", "text", "html"}
    assert body["subject"] == "Ada Admin vous invite sur Portico"
    assert "Nina" in body["text"]
    assert "<em>aboard</em>" in body["html"]
    assert "<script" not in body["html"]
    assert PREVIEW_TOKEN in body["html"]


def test_the_api_refuses_an_unknown_language(admin_client):
    response = admin_client.post(API, {"language": "xx"}, content_type="application/json")

    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "unknown_locale"


def test_only_admins_may_preview_through_the_api(resident_client, anonymous_client):
    for client in (resident_client, anonymous_client):
        response = client.post(API, {"language": "en"}, content_type="application/json")
        assert response.status_code in (401, 403)
    response = resident_client.post(API, {"language": "en"}, content_type="application/json")
    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "permission_denied"
