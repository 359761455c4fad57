"""The import page (``/manage/invitations/imports/<pk>/``) as an admin reads it: the
Confirm button promises email only when some will be sent, the status says the emails
are still going out until the last one has, warnings show whatever the outcome, and
numbers and "label: value" pairs are written the way the page's language writes them."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.loader import get_template
from django.test import Client, TestCase
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import template as translation_template

from portico.invitations.models import InvitationImport
from portico.invitations.services import imports
from portico.invitations.tasks import deliver_invitation_messages
from tests.invitations.sheet_files import xlsx_bytes

pytestmark = pytest.mark.django_db

NEW_PEOPLE = [["email", "first_name"], ["ann@x.example", "Ann"], ["bob@x.example", "Bob"]]


def upload(client: Client, rows, *, codes: bool = False, **options) -> InvitationImport:
    """The admin uploads ``rows`` (.xlsx) on the "Import a file" tab, or on "Generate
    codes"; the check runs after commit. Returns the import, checked."""
    url = reverse("web:generate-codes" if codes else "web:import-file")
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(
            url,
            {
                "file": SimpleUploadedFile("people.xlsx", xlsx_bytes(rows)),
                "language": "en",
                "send_email": "on",
                **options,
            },
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    return InvitationImport.objects.latest("pk")


def page(client: Client, invitation_import: InvitationImport) -> str:
    response = client.get(reverse("web:import", kwargs={"pk": invitation_import.pk}))
    assert response.status_code == 200
    return response.content.decode()


def confirm_button(html: str) -> str:
    match = re.search(r'<button type="submit" data-testid="confirm-import">(.*?)</button>', html)
    assert match, html
    return match.group(1)


def status(html: str) -> str:
    match = re.search(r'<strong data-testid="import-status">(.*?)</strong>', html, re.S)
    assert match, html
    return match.group(1).strip()


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --- Confirm -------------------------------------------------------------------------


def test_confirm_promises_email_only_when_some_will_be_sent(admin_client):
    people = upload(admin_client, NEW_PEOPLE)
    assert people.summary["emails"] == 2
    assert confirm_button(page(admin_client, people)) == "Confirm and send"

    codes = upload(admin_client, [["email", "first_name"], ["", "Ann"], ["", "Bob"]], codes=True)
    assert (codes.summary["codes"], codes.summary["emails"]) == (2, 0)
    assert confirm_button(page(admin_client, codes)) == "Confirm"

    # Every row already invited (by the first import, confirmed): nothing to send.
    with TestCase.captureOnCommitCallbacks(execute=True):
        admin_client.post(reverse("web:import-confirm", kwargs={"pk": people.pk}))
    again = upload(admin_client, NEW_PEOPLE)
    assert again.status == InvitationImport.Status.READY
    assert again.summary["emails"] == 0
    assert confirm_button(page(admin_client, again)) == "Confirm"


def test_confirming_a_codes_import_says_no_email_will_be_sent(admin_client):
    codes = upload(admin_client, [["email", "first_name"], ["", "Ann"]], codes=True)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = admin_client.post(
            reverse("web:import-confirm", kwargs={"pk": codes.pk}), follow=True
        )
    assert messages_of(response) == [
        "Confirmed: the invitations are being stored. No email will be sent."
    ]
    assert mail.outbox == []
    html = page(admin_client, codes)
    assert 'data-testid="stored">1<' in html
    assert 'data-testid="emails-sent"' not in html  # no bar for emails that never go


# --- Status while the emails go out ---------------------------------------------------


def test_the_status_says_emails_are_being_sent_until_the_last_one_is(admin, admin_client):
    invitation_import = upload(admin_client, NEW_PEOPLE)
    with TestCase.captureOnCommitCallbacks(execute=False):  # the emails wait for the worker
        imports.invitation_import_confirm(actor=admin, import_id=invitation_import.pk)
        imports.invitation_import_store(import_id=invitation_import.pk, now=timezone.now())
    invitation_import.refresh_from_db()
    assert invitation_import.status == InvitationImport.Status.DONE

    html = page(admin_client, invitation_import)
    assert status(html) == "Stored; sending emails"
    assert 'data-status="done"' in html
    progress_url = reverse("web:import-progress", kwargs={"pk": invitation_import.pk})
    polled = admin_client.get(progress_url, {"seen": "done"}).content.decode()
    assert status(polled) == "Stored; sending emails"
    assert 'hx-trigger="every 1s"' in polled  # and it keeps polling

    with TestCase.captureOnCommitCallbacks(execute=True):
        deliver_invitation_messages.enqueue()
    assert len(mail.outbox) == 2
    assert status(page(admin_client, invitation_import)) == "Done"
    polled = admin_client.get(progress_url, {"seen": "done"}).content.decode()
    assert status(polled) == "Done"
    assert 'hx-trigger="every 1s"' not in polled


# --- Warnings --------------------------------------------------------------------------


def test_warnings_show_on_an_import_that_ends_with_errors(admin_client):
    rows = [["email", "phone"], ["not an address", "0470 12 34 56"]]
    invitation_import = upload(admin_client, rows)
    assert invitation_import.status == InvitationImport.Status.INVALID
    assert invitation_import.warnings
    html = page(admin_client, invitation_import)
    assert 'data-testid="import-errors"' in html
    assert "The column phone is not known and is ignored." in html


def test_warnings_show_once_on_a_ready_import(admin_client):
    invitation_import = upload(admin_client, [["email", "phone"], ["ann@x.example", "0470"]])
    assert invitation_import.status == InvitationImport.Status.READY
    html = page(admin_client, invitation_import)
    assert html.count("The column phone is not known and is ignored.") == 1


# --- Numbers and labels in the page's language ------------------------------------------


def _large_import(admin_client, admin) -> InvitationImport:
    """A stored import with five-digit counters (set directly: 30,000 real rows would
    only slow the test down)."""
    invitation_import = upload(admin_client, NEW_PEOPLE)
    with TestCase.captureOnCommitCallbacks(execute=False):
        imports.invitation_import_confirm(actor=admin, import_id=invitation_import.pk)
    summary = {**invitation_import.summary, "invited": 30000, "emails": 30000}
    InvitationImport.objects.filter(pk=invitation_import.pk).update(
        rows_total=30000, rows_checked=30000, to_store=30000, stored=12345,
        emails_queued=30000, summary=summary,
    )  # fmt: skip
    return invitation_import


@pytest.mark.parametrize(
    ("language", "thousands"), [("en", "30,000"), ("nl-be", "30.000"), ("fr-be", "30\xa0000")]
)
def test_numbers_are_grouped_by_thousands_as_the_language_does(
    admin, admin_client, language, thousands
):
    invitation_import = _large_import(admin_client, admin)
    admin.language = language  # a signed-in admin sees the pages in their own language
    admin.save(update_fields=["language"])
    html = page(admin_client, invitation_import)
    stored = thousands.replace("30", "12").replace("000", "345")
    assert f'<span data-testid="stored">{stored}</span> / {thousands}' in html
    assert f'<strong data-testid="count-invited">{thousands}</strong>' in html
    assert f"{thousands} / {thousands}" in html  # rows checked
    assert "30000" not in html.replace('="30000"', "")  # but in the bars' attributes


def _msgids(template_name: str) -> set[str]:
    """The strings ``makemessages`` would extract from a template."""
    source = get_template(template_name).template.source
    code = translation_template.templatize(source)
    return {m.replace("\\'", "'") for m in re.findall(r"\bgettext\(u'((?:[^'\\]|\\.)*)'\)", code)}


def test_each_label_and_its_value_are_one_translatable_string():
    # So that each language places its colon: "Emails envoyés : 3 / 5" in French.
    progress = _msgids("web/_import_progress.html")
    assert "Rows checked: %(checked)s / %(total)s" in progress
    assert 'Invitations stored: <span data-testid="stored">%(stored)s</span> / %(total)s' in (
        progress
    )
    assert 'Emails sent: <span data-testid="emails-sent">%(sent)s</span> / %(total)s' in progress
    assert not {m for m in progress if m in ("Rows checked", "Invitations stored", "Emails sent")}
    summary = _msgids("web/import_detail.html")
    assert 'Emails to send: <strong data-testid="count-emails">%(n)s</strong>' in summary
    assert "Emails to send" not in summary


def test_while_the_file_is_read_the_page_says_so_instead_of_zero_rows(admin_client):
    with TestCase.captureOnCommitCallbacks(execute=False):  # the check is not run yet
        admin_client.post(
            reverse("web:import-file"),
            {"file": SimpleUploadedFile("people.xlsx", xlsx_bytes(NEW_PEOPLE)), "language": "en"},
        )
    reading = InvitationImport.objects.get()
    assert reading.status == InvitationImport.Status.CHECKING
    html = page(admin_client, reading)
    assert 'data-testid="reading">Reading the file…<' in html
    assert "Rows checked" not in html

    imports.invitation_import_check(import_id=reading.pk)
    html = page(admin_client, reading)
    assert "Rows checked: 2 / 2" in html
    assert 'data-testid="reading"' not in html
