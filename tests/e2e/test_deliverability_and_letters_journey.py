"""Two admin journeys in a real browser: finding the invitation the mail server refused,
fixing its address and seeing the email arrive with a new link that the invitee uses;
and printing the letters of a codes import: the print is queued, its page follows the
worker's progress until the Download button appears, and the download is audited."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from playwright.sync_api import Page, expect

from portico.invitations.models import Invitation, InvitationImport, LetterPrint
from portico.invitations.services.create import (
    InviteOptions,
    invitation_create_batch,
    parse_typed_emails,
)
from portico.invitations.services.imports import (
    invitation_import_check,
    invitation_import_confirm,
    invitation_import_start,
    invitation_import_store,
)
from portico.invitations.services.letters import letter_print_draw
from tests.conftest import PASSWORD, make_user
from tests.e2e.conftest import nav, sign_in
from tests.invitations.pdf import pdf_pages

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADMIN_EMAIL = "desk.admin@city.example"
TYPO = "sam.jones@hotmial.example"
FIXED = "sam.jones@hotmail.example"
INVITE_LINK = re.compile(r"https?://[^\s\"<>]+/invite/[0-9A-Z]+/")


def test_an_admin_fixes_a_refused_address_and_the_invitee_gets_in(
    page: Page, live_server, new_context
):
    base = live_server.url
    admin = make_user(ADMIN_EMAIL, is_admin=True, first_name="Dee", last_name="Desk")
    result = invitation_create_batch(
        actor=admin, rows=parse_typed_emails(f"Sam Jones <{TYPO}>"), options=InviteOptions()
    )
    # The mail server refused the address (what the worker records on a 550).
    Invitation.objects.filter(pk=result.invitation_ids[0]).update(
        delivery_failed_at=timezone.now(), delivery_error="550 5.1.1 <sam.jones@hotmial.example>"
    )
    old_token = Invitation.objects.get(pk=result.invitation_ids[0]).token

    sign_in(page, base, email=ADMIN_EMAIL, password=PASSWORD)
    page.goto(f"{base}/manage/invitations/")
    page.get_by_label("Status").select_option(label="Not delivered")
    page.get_by_role("button", name="Search").click()
    rows = page.get_by_test_id("invitation-row")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text(TYPO)
    expect(rows).to_contain_text("not delivered")

    rows.get_by_test_id("edit-address").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit address")
    expect(page.get_by_test_id("delivery-error")).to_contain_text("550 5.1.1")
    page.get_by_label("New email address").fill(FIXED)
    page.get_by_role("button", name="Save and send").click()

    # Back on the list as it was (filtered): nothing is undelivered any more.
    expect(page.get_by_role("status")).to_contain_text(FIXED)
    expect(page.get_by_test_id("invitation-row")).to_have_count(0)

    # The email to the new address is in the mailbox, with a new link.
    nav(page, "Mailbox")
    mail = page.get_by_test_id("mail-row").filter(has_text=FIXED)
    expect(mail).to_have_count(1)
    mail.get_by_role("link").click()
    link = INVITE_LINK.search(page.get_by_test_id("mail-text").inner_text()).group(0)
    assert old_token not in link

    invitee = new_context().new_page()
    invitee.goto(link)
    form = invitee.get_by_test_id("accept-form")
    expect(form.get_by_label("Email")).to_have_value(FIXED)
    form.get_by_label("Password").fill("a long passphrase 42")
    form.get_by_role("button", name="Create my account").click()
    expect(invitee.get_by_test_id("current-user")).to_have_text("Sam Jones")


def test_an_admin_prints_the_letters_of_a_codes_import(page: Page, live_server, settings):
    base = live_server.url
    admin = make_user(ADMIN_EMAIL, is_admin=True, first_name="Dee", last_name="Desk")
    rows = "email,first_name,last_name,language\n,Zoë,Façade,nl-BE\n,,,fr-BE\n,Ann,Ash,\n"
    invitation_import = invitation_import_start(
        actor=admin,
        upload=SimpleUploadedFile("letters.csv", rows.encode()),
        options=InviteOptions(),
        kind=InvitationImport.Kind.CODES,
    )
    invitation_import_check(import_id=invitation_import.pk)
    invitation_import_confirm(actor=admin, import_id=invitation_import.pk)
    invitation_import_store(import_id=invitation_import.pk, now=timezone.now())
    codes = [i.token_display for i in Invitation.objects.order_by("id")]
    # From here on queued tasks wait for the worker, played below by the test itself.
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}

    sign_in(page, base, email=ADMIN_EMAIL, password=PASSWORD)
    page.goto(f"{base}/manage/invitations/imports/{invitation_import.pk}/")
    expect(page.get_by_test_id("import-status")).to_have_text("Done")
    page.get_by_test_id("print-letters").click()

    # The print's page: queued, nothing drawn yet, no download.
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"Letters #\d+"))
    expect(page.get_by_test_id("letter-print-status")).to_have_text("Queued")
    expect(page.get_by_test_id("letters-total")).to_have_text("3")
    expect(page.get_by_test_id("download-letters")).to_have_count(0)

    # The worker draws it; the page, polling, shows the end and the Download button.
    letter_print_draw(print_id=LetterPrint.objects.get().pk, now=timezone.now())
    expect(page.get_by_test_id("letter-print-status")).to_have_text("Done")
    expect(page.get_by_test_id("letters-drawn")).to_have_text("3")
    with page.expect_download() as download_info:
        page.get_by_test_id("download-letters").click()
    download = download_info.value
    assert re.fullmatch(r"letters-\d{8}-\d{4}\.pdf", download.suggested_filename)

    with open(download.path(), "rb") as pdf:
        pages = pdf_pages(pdf.read())
    assert len(pages) == 3
    assert [next(s for s in p.strings if s in codes) for p in pages] == codes

    # The download is in the audit log, with who downloaded.
    nav(page, "Audit log")
    entry = page.get_by_test_id("audit-row").filter(has_text="invitation.letters_downloaded")
    expect(entry).to_have_count(1)
    expect(entry).to_contain_text(ADMIN_EMAIL)
