"""An admin deletes every expired invitation in a real browser: ticks the page's box,
selects all the matching invitations (more than a page), confirms the count, and is
back on the list with the outcome."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from portico.invitations.models import Invitation
from tests.conftest import PASSWORD, make_user
from tests.e2e.conftest import sign_in
from tests.invitations.bulk import make_invitations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADMIN_EMAIL = "bulk.admin@city.example"


def test_an_admin_deletes_every_expired_invitation(page: Page, live_server):
    base = live_server.url
    admin = make_user(ADMIN_EMAIL, is_admin=True, first_name="Bo", last_name="Bulk")
    make_invitations(60, prefix="old", inviter=admin, expires_at=timezone.now() - timedelta(days=1))
    kept = make_invitations(2, prefix="fresh", inviter=admin)

    sign_in(page, base, email=ADMIN_EMAIL, password=PASSWORD)
    page.goto(f"{base}/manage/invitations/?status=expired")
    expect(page.get_by_test_id("invitation-row")).to_have_count(50)
    bar = page.get_by_test_id("select-matching")
    expect(bar).to_be_hidden()

    page.get_by_role("checkbox", name="Select all").check()
    expect(bar.get_by_text("All 50 invitations on this page are selected.")).to_be_visible()
    select_matching = bar.get_by_role("button", name="Select all 60 matching invitations")
    select_matching.click()
    expect(bar.get_by_text("All 60 matching invitations are selected.")).to_be_visible()
    expect(select_matching).to_be_hidden()
    page.get_by_role("button", name="Delete selected").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Delete 60 invitations?")
    expect(page.get_by_test_id("matching-filter")).to_contain_text("status: Expired")
    page.get_by_role("button", name="Delete 60 invitations").click()

    expect(page.get_by_role("status")).to_contain_text("60 invitations deleted.")
    expect(page.get_by_test_id("invitation-row")).to_have_count(0)
    assert list(Invitation.objects.order_by("pk")) == kept
