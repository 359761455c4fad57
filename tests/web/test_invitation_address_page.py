"""Invitations → Edit address (``/manage/invitations/<pk>/address/``): an admin sees why
an invitation could not be delivered and sends it to a corrected address, by posting the
page's form as a browser does."""

from __future__ import annotations

import html as html_lib
import re

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from portico.core.models import AuditEvent
from portico.invitations.models import Invitation
from portico.invitations.services.accept import invitation_accept
from portico.invitations.services.create import (
    InviteOptions,
    InviteRow,
    invitation_create_batch,
    parse_typed_emails,
)
from tests.conftest import PASSWORD
from tests.invitations.bulk import make_invitations
from tests.invitations.smtp_server import CollectingHandler, SMTPServer

LIST = "/manage/invitations/"
ROW = 'data-testid="invitation-row"'
TYPO = "sam.jones@hotmial.example"
FIXED = "sam.jones@hotmail.example"
LOCMEM = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}


def address_url(invitation: Invitation) -> str:
    return f"/manage/invitations/{invitation.pk}/address/"


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def refused(admin, settings, django_capture_on_commit_callbacks) -> Invitation:
    """Sent through a real SMTP server that refuses the mistyped address (``550``), so
    the worker marks it undelivered; mail goes to ``mail.outbox`` afterwards."""
    server = SMTPServer(handler=CollectingHandler(refuse={TYPO: "550 5.1.1 no such user"})).start()
    settings.MAILERS = server.mailers_setting()
    try:
        with django_capture_on_commit_callbacks(execute=True):
            result = invitation_create_batch(
                actor=admin, rows=parse_typed_emails(f"Sam Jones <{TYPO}>"), options=InviteOptions()
            )
    finally:
        server.stop()
    settings.MAILERS = LOCMEM
    invitation = Invitation.objects.get(pk=result.invitation_ids[0])
    assert invitation.delivery_failed_at is not None
    return invitation


@pytest.fixture
def accepted(admin) -> Invitation:
    (invitation,) = make_invitations(1, prefix="accepted", inviter=admin)
    invitation_accept(token=invitation.token, first_name="A", last_name="C", password=PASSWORD)
    invitation.refresh_from_db()
    return invitation


def _rows(response) -> list[str]:
    return response.content.decode().split(ROW)[1:]


def _edit_link(row: str) -> str:
    match = re.search(r'<a href="([^"]+)" data-testid="edit-address">', row)
    assert match, row
    return html_lib.unescape(match.group(1))


def test_an_admin_fixes_a_refused_address_from_the_not_delivered_list(
    admin, admin_client, refused, django_capture_on_commit_callbacks
):
    old_token = refused.token_display
    listed = admin_client.get(LIST, {"status": "undelivered"})
    (row,) = _rows(listed)
    assert TYPO in row
    link = _edit_link(row)
    assert link.startswith(address_url(refused) + "?")

    page = admin_client.get(link)
    assert page.status_code == 200
    html = page.content.decode()
    assert TYPO in html.split('data-testid="current-address"')[1]
    reason = html.split('data-testid="delivery-error"')[1].split("</p>")[0]
    assert "550" in reason
    assert "5.1.1 no such user" in reason
    assert f'value="{TYPO}"' in html  # the address to correct, filled in
    assert 'name="csrfmiddlewaretoken"' in html
    assert '<input type="hidden" name="status" value="undelivered">' in html

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            address_url(refused), {"email": FIXED, "status": "undelivered", "q": "", "page": "1"}
        )

    assert response.status_code == 302
    assert response["Location"] == f"{LIST}?status=undelivered&q=&page=1"
    back = admin_client.get(response["Location"])
    assert messages_of(back) == [
        f"Invitation sent to {FIXED} with a new code; the old link no longer works."
    ]
    assert _rows(back) == []  # no longer undelivered
    assert [m.to for m in mail.outbox] == [[FIXED]]
    refused.refresh_from_db()
    assert refused.email == FIXED
    assert refused.token_display != old_token
    assert refused.token in mail.outbox[0].body
    event = AuditEvent.objects.get(verb="invitation.email_changed")
    assert (event.actor, event.details["old_email"], event.details["new_email"]) == (
        admin,
        TYPO,
        FIXED,
    )


def test_only_rows_not_accepted_offer_to_edit_the_address(admin_client, refused, accepted):
    rows = _rows(admin_client.get(LIST))
    assert len(rows) == 2
    for row in rows:
        assert ('data-testid="edit-address"' in row) == (accepted.email not in row)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("not an address", "not an address is not a valid email address."),
        ("", "This field is required."),
        (
            "RITA.resident@mail.example",
            "RITA.resident@mail.example belongs to a registered account; invite that account "
            "to give it these rights.",
        ),
    ],
)
def test_a_refused_address_is_shown_next_to_the_field_and_nothing_is_sent(
    admin_client, refused, resident, typed, message
):
    response = admin_client.post(address_url(refused), {"email": typed})

    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["email"] == [message]
    assert message.replace("'", "&#x27;") in response.content.decode()
    assert f'value="{typed}"' in response.content.decode() or not typed  # kept to correct
    refused.refresh_from_db()
    assert refused.email == TYPO
    assert refused.delivery_failed_at is not None
    assert mail.outbox == []


def test_the_address_of_another_open_invitation_is_refused_naming_it(admin, admin_client, refused):
    (other,) = make_invitations(1, prefix="other", inviter=admin)
    response = admin_client.post(address_url(refused), {"email": other.email.upper()})
    assert response.status_code == 200
    (error,) = response.context["form"].errors["email"]
    assert f"#{other.pk}" in error
    assert "already has an open invitation" in error
    assert mail.outbox == []


def test_an_accepted_invitation_shows_why_its_address_cannot_change(admin_client, accepted):
    page = admin_client.get(address_url(accepted))
    assert page.status_code == 200
    html = page.content.decode()
    assert "its address can no longer be changed" in html
    assert 'name="email"' not in html

    response = admin_client.post(address_url(accepted), {"email": FIXED})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "This invitation has already been accepted."
    ]
    accepted.refresh_from_db()
    assert accepted.email != FIXED
    assert not AuditEvent.objects.filter(verb="invitation.email_changed").exists()


def test_a_code_gets_an_address_and_is_sent(
    admin, admin_client, django_capture_on_commit_callbacks
):
    result = invitation_create_batch(
        actor=admin,
        rows=[InviteRow(position=2, email=None)],
        options=InviteOptions(),
        where="row",
        allow_codes=True,
    )
    code = Invitation.objects.get(pk=result.invitation_ids[0])
    page = admin_client.get(address_url(code))
    assert "none (a registration code)" in page.content.decode()
    assert 'data-testid="delivery-error"' not in page.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(address_url(code), {"email": FIXED})

    assert response.status_code == 302
    assert response["Location"] == LIST
    assert [m.to for m in mail.outbox] == [[FIXED]]


def test_an_unknown_invitation_is_404(admin_client):
    assert admin_client.get("/manage/invitations/987654/address/").status_code == 404
    assert (
        admin_client.post("/manage/invitations/987654/address/", {"email": FIXED}).status_code
        == 404
    )


@pytest.mark.parametrize("method", ["get", "post"])
def test_residents_and_moderators_get_403(resident_client, moderator_client, refused, method):
    for client in (resident_client, moderator_client):
        response = getattr(client, method)(address_url(refused), {"email": FIXED})
        assert response.status_code == 403
    refused.refresh_from_db()
    assert refused.email == TYPO
    assert mail.outbox == []


def test_visitors_are_sent_to_sign_in(anonymous_client, refused):
    response = anonymous_client.post(address_url(refused), {"email": FIXED})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/sign-in/")
    refused.refresh_from_db()
    assert refused.email == TYPO


def test_the_form_needs_its_csrf_token(admin, refused, django_capture_on_commit_callbacks):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin)

    forged = browser.post(address_url(refused), {"email": FIXED})
    assert forged.status_code == 403
    refused.refresh_from_db()
    assert refused.email == TYPO
    assert mail.outbox == []

    page = browser.get(address_url(refused))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(
            address_url(refused), {"email": FIXED, "csrfmiddlewaretoken": token.group(1)}
        )
    assert response.status_code == 302
    refused.refresh_from_db()
    assert refused.email == FIXED
    assert refused.delivery_failed_at is None
    assert refused.sent_at <= timezone.now()
    assert [m.to for m in mail.outbox] == [[FIXED]]
