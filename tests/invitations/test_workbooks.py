"""The downloadable templates as Excel opens them: the language and admin lists suggest
values without refusing the others the import accepts, and the codes template says the
email cell stays empty."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from django.urls import reverse

from tests.invitations.sheet_files import read_xlsx

pytestmark = pytest.mark.django_db


def _template(client, *, codes: bool) -> bytes:
    response = client.get(reverse("web:template"), {"kind": "codes"} if codes else {})
    assert response.status_code == 200
    return response.content


def _validations(content: bytes) -> dict[str, dict[str, str]]:
    """The first sheet's data validations by range (``D2:D100001``), with their XML
    attributes."""
    with zipfile.ZipFile(io.BytesIO(content)) as workbook:
        xml = workbook.read("xl/worksheets/sheet1.xml").decode()
    found = {}
    for match in re.finditer(r"<dataValidation\b([^>]*)>", xml):
        attributes = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
        found[attributes["sqref"]] = attributes
    return found


@pytest.mark.parametrize("codes", [False, True], ids=["invitations", "codes"])
def test_the_lists_suggest_values_and_accept_others(admin_client, codes):
    # Excel's default style ("stop") refuses "yes", "0" or "nl-be", which the import takes.
    validations = _validations(_template(admin_client, codes=codes))
    language, admin = validations["D2:D100001"], validations["F2:F100001"]
    for validation in (language, admin):
        assert validation["type"] == "list"
        assert validation.get("errorStyle") in ("warning", "information")


def _help_row(content: bytes, column: str) -> list[str]:
    return next(row for row in read_xlsx(content, sheet=1) if row and row[0] == column)


def test_the_codes_template_says_the_email_stays_empty(admin_client):
    _name, text, example = _help_row(_template(admin_client, codes=True), "email")
    assert "empty" in text
    assert "no address" in text
    assert "Required" not in text
    assert example == ""  # no address as an example where none belongs


def test_the_invitations_template_still_requires_the_email(admin_client):
    _name, text, example = _help_row(_template(admin_client, codes=False), "email")
    assert text.startswith("Required.")
    assert "@" in example
