"""All invitations → tick the page's box → "Select all N matching invitations" → Resend
or Delete: a confirmation page naming the count and the filter, then the whole filter
done and the admin back on the list with the counts. Forms posted as a browser does,
CSRF enforced."""

from __future__ import annotations

import html as html_lib
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from portico.core.models import AuditEvent
from portico.invitations.models import Invitation, InvitationMessage
from tests.invitations.bulk import make_invitations

LIST = "/manage/invitations/"
RESEND = "/manage/invitations/resend-matching/"
DELETE = "/manage/invitations/delete-matching/"


@pytest.fixture
def browser(admin) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    return client


@pytest.fixture
def expired(admin) -> list[Invitation]:
    """More expired invitations than a page shows."""
    past = timezone.now() - timedelta(days=1)
    return make_invitations(55, prefix="expired", inviter=admin, expires_at=past)


def _text(response) -> str:
    """The page's text, tags removed and spaces collapsed."""
    text = html_lib.unescape(re.sub(r"<[^>]+>", " ", response.content.decode()))
    return re.sub(r"\s+", " ", text)


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def _confirm_form(response) -> dict[str, str]:
    """The fields the confirmation page's form posts."""
    form = re.search(
        r'<form method="post" class="card" data-testid="matching-confirm">(.*?)</form>',
        response.content.decode(),
        flags=re.S,
    )
    assert form, response.content.decode()
    return {
        name: html_lib.unescape(value)
        for name, value in re.findall(r'name="([^"]+)" value="([^"]*)"', form.group(1))
    }


def _matching_url(response, label: str) -> str:
    button = re.search(rf'data-matching-url="([^"]+)"[^>]*>{label}<', response.content.decode())
    assert button, response.content.decode()
    return html_lib.unescape(button.group(1))


def test_the_list_offers_every_matching_invitation_when_there_are_more_than_a_page(
    admin_client, expired
):
    response = admin_client.get(LIST, {"q": "expired", "status": "expired", "sort": "email"})

    assert 'data-testid="select-matching"' in response.content.decode()
    assert "All 50 invitations on this page are selected." in _text(response)
    assert "Select all 55 matching invitations" in _text(response)
    assert _matching_url(response, "Resend selected") == (
        f"{RESEND}?q=expired&status=expired&sort=email&page=1"
    )
    assert _matching_url(response, "Delete selected") == (
        f"{DELETE}?q=expired&status=expired&sort=email&page=1"
    )


def test_a_list_that_fits_on_its_page_needs_no_such_offer(admin_client, expired):
    response = admin_client.get(LIST, {"q": "expired0000"})

    assert 'data-testid="select-matching"' not in response.content.decode()


def test_the_confirmation_names_the_count_and_the_filter_and_changes_nothing(
    admin, browser, expired
):
    make_invitations(2, prefix="expiredaccepted", inviter=admin, status="accepted")

    response = browser.get(RESEND, {"q": "expired", "status": "", "sort": "email"})

    assert response.status_code == 200
    text = _text(response)
    assert "Resend 57 invitations?" in text
    assert "Every invitation the list shows for: search “expired”" in text
    assert "each expires 30 days later" in text
    assert "2 of them have already been accepted and are not sent again." in text
    assert _confirm_form(response) | {"csrfmiddlewaretoken": ""} == {
        "csrfmiddlewaretoken": "",
        "q": "expired",
        "status": "",
        "sort": "email",
        "up_to_id": str(Invitation.objects.order_by("pk").last().pk),
    }
    assert InvitationMessage.objects.count() == 0
    assert not AuditEvent.objects.exists()


def test_an_admin_resends_every_matching_invitation(
    admin, browser, expired, django_capture_on_commit_callbacks
):
    others = make_invitations(3, prefix="other", inviter=admin)
    page = browser.get(RESEND, {"q": "expired", "status": "expired", "page": "2"})
    assert "status: Expired" in _text(page)
    form = _confirm_form(page)

    forged = browser.post(RESEND, {k: v for k, v in form.items() if k != "csrfmiddlewaretoken"})
    assert forged.status_code == 403
    assert InvitationMessage.objects.count() == 0

    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(RESEND, form, follow=True)

    assert response.redirect_chain[0][0] == f"{LIST}?q=expired&status=expired&page=2"
    assert _messages(response) == ["55 invitations sent again."]
    emailed = InvitationMessage.objects.values_list("invitation_id", flat=True)
    assert sorted(emailed) == [i.pk for i in expired]
    assert not InvitationMessage.objects.filter(invitation__in=others).exists()
    event = AuditEvent.objects.get(verb="invitation.bulk_resent")
    assert (event.actor, event.details["search"], event.details["status"]) == (
        admin,
        "expired",
        "expired",
    )


def test_the_outcome_counts_what_was_not_sent(admin, browser, django_capture_on_commit_callbacks):
    make_invitations(3, prefix="mixed", inviter=admin)
    make_invitations(2, prefix="mixedaccepted", inviter=admin, status="accepted")
    make_invitations(1, prefix="mixedcode", inviter=admin, email=None, first_name="mixed")
    form = _confirm_form(browser.get(RESEND, {"q": "mixed"}))

    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(RESEND, form, follow=True)

    assert _messages(response) == [
        "4 invitations sent again.",
        "2 invitations were not sent again: they have already been accepted.",
        "1 code without an address was renewed, without email.",
    ]


def test_an_admin_deletes_every_matching_invitation_but_not_newer_ones(admin, browser, expired):
    page = browser.get(DELETE, {"status": "expired"})
    text = _text(page)
    assert "Delete 55 invitations?" in text
    assert "lose the rights and groups they carried" in text
    form = _confirm_form(page)
    # Expired since the page was shown: not among those the admin confirmed.
    newer = make_invitations(2, prefix="newer", inviter=admin, expires_at=timezone.now())

    response = browser.post(DELETE, form, follow=True)

    assert _messages(response) == ["55 invitations deleted."]
    assert list(Invitation.objects.order_by("pk")) == newer
    assert AuditEvent.objects.filter(verb="invitation.deleted").count() == 55


def test_every_invitation_is_named_as_such_and_needs_the_confirmation(browser, expired):
    page = browser.get(DELETE, {"status": "not-a-status"})  # the list shows every status
    assert "Every invitation: no search, every status." in _text(page)
    form = _confirm_form(page)
    assert form["all"] == "1"

    response = browser.post(DELETE, {k: v for k, v in form.items() if k != "all"}, follow=True)
    assert _messages(response) == [
        "This filter has no search and no status, so it matches every invitation. "
        "Confirm that this is meant (all: true)."
    ]
    assert Invitation.objects.count() == 55

    response = browser.post(DELETE, form, follow=True)
    assert _messages(response) == ["55 invitations deleted."]
    assert not Invitation.objects.exists()


def test_nothing_left_to_do_says_so(browser, expired):
    form = _confirm_form(browser.get(DELETE, {"status": "expired"}))
    browser.post(DELETE, form, follow=True)

    response = browser.post(DELETE, form, follow=True)

    assert _messages(response) == ["No invitation matches the filter any more."]
    page = browser.get(DELETE, {"status": "expired"})
    assert "No invitations match." in _text(page)
    assert 'data-testid="matching-confirm"' not in page.content.decode()
