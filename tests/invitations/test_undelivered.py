"""The "Not delivered" filter (``status=undelivered``): invitations not accepted whose
last email the mail server refused, in the admin list, the API and both exports."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from portico.invitations.models import Invitation
from portico.invitations.selectors import UNDELIVERED, invitation_list_for_admin
from portico.invitations.services.accept import invitation_accept
from portico.invitations.services.manage import invitation_change_email
from tests.conftest import PASSWORD
from tests.invitations.sheet_files import API, read_csv, read_xlsx

LIST = "/manage/invitations/"
ROW = 'data-testid="invitation-row"'


def _refuse(invitation: Invitation) -> None:
    """What the worker records when the mail server refuses the invitation's email."""
    Invitation.objects.filter(pk=invitation.pk).update(
        delivery_failed_at=timezone.now(), delivery_error="refused by the mail server: 550"
    )


@pytest.fixture
def people(admin, invite, make_code) -> dict[str, Invitation]:
    """Refused: a pending one, an expired one and an accepted one (delivered by other
    means since). Delivered: a pending one and a code."""
    refused_pending = invite("Ruth Refused <ruth@typo.example>")
    refused_expired = invite("Rex Refused <rex@typo.example>")
    Invitation.objects.filter(pk=refused_expired.pk).update(
        expires_at=timezone.now() - timedelta(days=1)
    )
    refused_accepted = invite("Rae Refused <rae@typo.example>")
    invitation_accept(
        token=refused_accepted.token, first_name="Rae", last_name="R", password=PASSWORD
    )
    delivered = invite("Dina Delivered <dina@mail.example>")
    code = make_code()
    for invitation in (refused_pending, refused_expired, refused_accepted):
        _refuse(invitation)
    mail.outbox.clear()
    return {
        "refused_pending": refused_pending,
        "refused_expired": refused_expired,
        "refused_accepted": refused_accepted,
        "delivered": delivered,
        "code": code,
    }


UNDELIVERED_EMAILS = ["rex@typo.example", "ruth@typo.example"]


def test_the_selector_lists_refused_invitations_that_are_not_accepted(people):
    emails = invitation_list_for_admin(status=UNDELIVERED, sort="email").values_list(
        "email", flat=True
    )
    assert list(emails) == UNDELIVERED_EMAILS


def test_the_filter_combines_with_search(people):
    found = invitation_list_for_admin(status=UNDELIVERED, search="ruth")
    assert [i.email for i in found] == ["ruth@typo.example"]
    assert not invitation_list_for_admin(status=UNDELIVERED, search="dina").exists()


def test_a_fixed_invitation_leaves_the_filter(admin, people, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invitation_change_email(
            actor=admin, invitation_id=people["refused_pending"].pk, email="ruth@mail.example"
        )
    emails = [i.email for i in invitation_list_for_admin(status=UNDELIVERED)]
    assert emails == ["rex@typo.example"]


def test_the_admin_list_filters_not_delivered(admin_client, people):
    response = admin_client.get(LIST, {"status": "undelivered", "sort": "email"})
    assert response.status_code == 200
    html = response.content.decode()
    assert '<option value="undelivered" selected>Not delivered</option>' in html
    rows = html.split(ROW)[1:]
    assert len(rows) == 2
    for email, row in zip(UNDELIVERED_EMAILS, rows, strict=True):
        assert email in row
        assert "not delivered" in row  # the badge
        assert "Edit address" in row
    assert "2 invitations" in html
    # The export links carry the filter.
    assert "status=undelivered" in html.split('data-testid="export-xlsx"')[0].rsplit("<a", 1)[1]


def test_the_api_filters_not_delivered(admin_client, people):
    response = admin_client.get(API, {"status": "undelivered", "sort": "email"})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [item["email"] for item in body["items"]] == UNDELIVERED_EMAILS
    assert all(item["delivery_error"] for item in body["items"])
    assert {item["status"] for item in body["items"]} == {"pending", "expired"}


def _exported_emails(response, fmt: str) -> list[str]:
    content = b"".join(response.streaming_content)
    rows = read_xlsx(content) if fmt == "xlsx" else read_csv(content)
    header, *body = rows
    return sorted(str(row[header.index("email")]) for row in body)


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
@pytest.mark.parametrize("url", [f"{API}/export", "/manage/invitations/export/"])
def test_both_exports_honour_the_filter(admin_client, people, fmt, url):
    response = admin_client.get(url, {"format": fmt, "status": "undelivered"})
    assert response.status_code == 200
    assert _exported_emails(response, fmt) == UNDELIVERED_EMAILS
