"""An admin's spreadsheet import, in a real browser: download the template from the
"Import a file" tab, fill it in, upload it, read the preview, confirm, watch the
progress reach "Done" with every email sent, and find the invitations in the list."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import xlsxwriter
from playwright.sync_api import Page, expect
from python_calamine import CalamineWorkbook

from portico.groups.models import Group
from portico.invitations.models import Invitation
from tests.conftest import PASSWORD, make_user
from tests.e2e.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADMIN_EMAIL = "imports.admin@city.example"
GROUP = "North Avenue Residents"
COLUMNS = ["email", "first_name", "last_name", "language", "groups", "admin"]
PEOPLE = [
    ["noor.north@mail.example", "Noor", "North", "nl-BE", GROUP, ""],
    ["omar.oak@mail.example", "Omar", "Oak", "", "", "TRUE"],
    ["pia.pine@mail.example", "Pia", "Pine", "fr-be", GROUP, "no"],
]


def fill_template(template: Path, filled: Path) -> None:
    """Check the downloaded template's columns, then write a filled copy."""
    workbook = CalamineWorkbook.from_path(str(template))
    rows = workbook.get_sheet_by_index(0).to_python()
    assert rows == [COLUMNS], rows  # the columns, and no example row that would invite
    assert len(workbook.sheet_names) == 2  # the help sheet
    help_rows = workbook.get_sheet_by_index(1).to_python()
    assert [r[0] for r in help_rows[1:7]] == COLUMNS
    assert any(r[0] == GROUP for r in help_rows)  # the platform's groups are listed

    out = xlsxwriter.Workbook(str(filled))
    sheet = out.add_worksheet(workbook.sheet_names[0])
    sheet.write_row(0, 0, rows[0])
    for number, person in enumerate(PEOPLE, start=1):
        for column, value in enumerate(person):
            if value:
                sheet.write_string(number, column, value)
    out.close()


def test_an_admin_imports_the_filled_template_and_finds_the_invitations(
    page: Page, live_server, tmp_path
):
    base = live_server.url
    make_user(ADMIN_EMAIL, is_admin=True, first_name="Ida", last_name="Importer")
    Group.objects.create(name=GROUP)

    sign_in(page, base, email=ADMIN_EMAIL, password=PASSWORD)
    expect(page.get_by_test_id("current-user")).to_have_text("Ida Importer")

    # The "Import a file" tab and its template.
    page.goto(f"{base}/manage/invitations/import/")
    expect(page.get_by_role("heading", level=2)).to_have_text("Import a file")
    with page.expect_download() as download_info:
        page.get_by_test_id("download-template").click()
    download = download_info.value
    assert download.suggested_filename == "portico-invitations-template.xlsx"
    template = tmp_path / download.suggested_filename
    download.save_as(template)
    filled = tmp_path / "north-avenue.xlsx"
    fill_template(template, filled)

    # Upload: the preview says what will happen, nothing is stored yet.
    page.get_by_label("Spreadsheet or CSV file").set_input_files(str(filled))
    page.get_by_role("button", name="Upload and preview").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("north-avenue.xlsx")
    expect(page.get_by_test_id("import-status")).to_have_text("Ready to confirm")
    expect(page.get_by_test_id("count-invited")).to_have_text("3")
    expect(page.get_by_test_id("count-codes")).to_have_text("0")
    expect(page.get_by_test_id("count-existing")).to_have_text("0")
    preview = page.get_by_test_id("preview")
    for email, *_rest in PEOPLE:
        expect(preview.get_by_role("row").filter(has_text=email)).to_have_count(1)
    expect(preview.get_by_role("row").filter(has_text="pia.pine@mail.example")).to_contain_text(
        "fr-BE"
    )
    assert Invitation.objects.count() == 0

    # Confirm, and watch the progress reach the end.
    page.get_by_test_id("confirm-import").click()
    expect(page.get_by_role("status")).to_contain_text("Confirmed")
    expect(page.get_by_test_id("import-status")).to_have_text("Done")
    expect(page.get_by_test_id("stored")).to_have_text("3")
    expect(page.get_by_test_id("emails-sent")).to_have_text("3")
    expect(page.get_by_test_id("confirm-import")).to_have_count(0)
    expect(page.get_by_test_id("import-progress")).to_have_attribute("data-status", "done")

    # The invitations are in the list, pending, the admin one marked as such.
    page.get_by_role("link", name="See all invitations").click()
    expect(page).to_have_url(re.compile(r"/manage/invitations/$"))
    rows = page.get_by_test_id("invitation-row")
    expect(rows).to_have_count(3)
    for email, first, last, *_rest in PEOPLE:
        row = rows.filter(has_text=email)
        expect(row).to_have_count(1)
        expect(row).to_contain_text(f"{first} {last}")
        expect(row.get_by_test_id("status")).to_contain_text("Pending")
    expect(rows.filter(has_text="omar.oak@mail.example").get_by_test_id("status")).to_contain_text(
        "admin"
    )
    expect(
        rows.filter(has_text="noor.north@mail.example").get_by_test_id("status")
    ).not_to_contain_text("admin")
    invitations = {i.email: i for i in Invitation.objects.prefetch_related("groups")}
    assert invitations["noor.north@mail.example"].language == "nl-BE"
    assert [g.name for g in invitations["pia.pine@mail.example"].groups.all()] == [GROUP]
    assert invitations["omar.oak@mail.example"].is_admin
