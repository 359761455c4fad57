"""All invitations → Resend on a registration code (an invitation without an address):
the code is renewed (a new expiry) and nothing is sent, and the page says exactly that,
for one code and for a selection."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import formats, timezone

from portico.invitations.models import Invitation
from portico.invitations.services.create import InviteOptions, InviteRow, invitation_create_batch
from tests.invitations.bulk import make_invitations

pytestmark = pytest.mark.django_db
LIST = "/manage/invitations/"


@pytest.fixture
def code(admin, django_capture_on_commit_callbacks) -> Invitation:
    """A registration code for a letter, ten days before it expires."""
    with django_capture_on_commit_callbacks(execute=True):
        result = invitation_create_batch(
            actor=admin,
            rows=[InviteRow(position=2, email=None, first_name="Zoë")],
            options=InviteOptions(),
            where="row",
            allow_codes=True,
        )
    (invitation_id,) = result.invitation_ids
    Invitation.objects.filter(pk=invitation_id).update(
        expires_at=timezone.now() + timedelta(days=10)
    )
    return Invitation.objects.get(pk=invitation_id)


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_resending_a_code_says_it_was_renewed_not_sent(
    admin_client, code, django_capture_on_commit_callbacks
):
    old_expiry = code.expires_at
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"{LIST}{code.pk}/resend/", follow=True)
    code.refresh_from_db()
    assert code.expires_at > old_expiry
    until = formats.date_format(timezone.localtime(code.expires_at), "DATE_FORMAT")
    assert _messages(response) == [
        f"Code {code.token_display[:4]}… renewed: it is valid until {until}. "
        "No email was sent: a code has no address."
    ]
    assert mail.outbox == []
    assert "sent again" not in response.content.decode()


def test_resending_a_selection_counts_codes_apart(
    admin, admin_client, code, django_capture_on_commit_callbacks
):
    (invitation,) = make_invitations(1, inviter=admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            f"{LIST}resend/", {"ids": [invitation.pk, code.pk]}, follow=True
        )
    assert _messages(response) == [
        "1 invitation sent again.",
        "1 code without an address was renewed, without email.",
    ]
    assert [m.to for m in mail.outbox] == [[invitation.email]]


def test_a_selection_of_codes_only_says_nothing_was_sent(
    admin_client, code, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"{LIST}resend/", {"ids": [code.pk]}, follow=True)
    assert _messages(response) == ["1 code without an address was renewed, without email."]
    assert mail.outbox == []


def test_the_lists_button_for_a_code_says_renew(admin, admin_client, code):
    (invitation,) = make_invitations(1, inviter=admin)
    html = admin_client.get(LIST).content.decode()
    rows = html.split('data-testid="invitation-row"')[1:]
    code_row = next(r for r in rows if code.token_display in r)
    email_row = next(r for r in rows if invitation.email in r)
    assert '<button type="submit" class="link">Renew</button>' in code_row
    assert '<button type="submit" class="link">Resend</button>' in email_row


def test_a_selected_id_that_is_no_number_is_left_out_not_a_server_error(admin_client, code):
    response = admin_client.post(f"{LIST}resend/", {"ids": ["²", "1a"]}, follow=True)
    assert response.status_code == 200
