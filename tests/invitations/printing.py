"""Helpers of the letters' tests: a finished codes import made the admin's way, the codes
printed on the pages of a PDF, and a PDF download read back."""

from __future__ import annotations

import re

from django.test import Client

from portico.invitations.models import Invitation, InvitationImport
from portico.invitations.services.accept import invitation_accept
from tests.conftest import PASSWORD
from tests.invitations.pdf import Page, pdf_pages
from tests.invitations.sheet_files import HEADER, checked, confirm, csv_bytes

CODE = re.compile(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{2}")


def finished_codes_import(client: Client) -> InvitationImport:
    """A finished codes import of three rows (in Dutch, French and the batch's English),
    uploaded, checked and confirmed through the API by the admin signed in on
    ``client``."""
    content = csv_bytes(
        [
            HEADER,
            ["", "Zoë", "Façade", "nl-BE", "", ""],
            ["", "", "", "fr-BE", "", ""],
            ["", "Ann", "Ash", "", "", ""],
        ]
    )
    result = checked(client, "codes.csv", content, kind="codes", language="en")
    assert result["progress"]["status"] == "ready", result
    assert confirm(client, result["id"]).status_code == 202
    invitation_import = InvitationImport.objects.get(pk=result["id"])
    assert invitation_import.status == InvitationImport.Status.DONE
    return invitation_import


def codes_of(invitation_import: InvitationImport) -> list[Invitation]:
    """The import's invitations, in the order of its rows."""
    return list(Invitation.objects.filter(batch=invitation_import.batch).order_by("id"))


def code_on(page: Page) -> str:
    """The code printed on a letter (in its display form, whatever the language)."""
    (code,) = [s for s in page.strings if CODE.fullmatch(s)]
    return code


def pdf_of(response) -> list[Page]:
    """The pages of a letters download, after checking that it is one: a PDF attachment
    named after the minute it was drawn."""
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"] == "application/pdf"
    assert re.fullmatch(
        r'attachment; filename="letters-\d{8}-\d{4}\.pdf"', response["Content-Disposition"]
    )
    return pdf_pages(b"".join(response.streaming_content))


def accept(invitation: Invitation, email: str) -> None:
    """The invitee uses the code (with an address of their own)."""
    invitation_accept(
        token=invitation.token, email=email, first_name="A", last_name="B", password=PASSWORD
    )
