"""Spreadsheet imports, row by row, from real .xlsx and .csv files: every error with the
row number the spreadsheet shows (the header is row 1, blank rows are skipped but
counted), its column and its value; cells overriding the batch options and empty cells
falling back to them; a preview that writes nothing; confirming that stores and sends
once; and an import whose data changed before the confirm storing nothing."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone, translation
from python_calamine import CalamineWorkbook

from portico.core.languages import platform_languages
from portico.core.models import AuditEvent
from portico.groups.models import Group, Membership
from portico.invitations import exports
from portico.invitations.models import (
    Invitation,
    InvitationBatch,
    InvitationImport,
    InvitationMessage,
)
from portico.invitations.services.imports import invitation_import_check, invitation_import_start
from portico.invitations.services.jobs import invitations_expire
from portico.invitations.services.planning import InviteOptions
from portico.invitations.sheets import COLUMNS
from tests.conftest import make_user
from tests.invitations.conftest import mail_to
from tests.invitations.sheet_files import (
    API,
    HEADER,
    checked,
    confirm,
    csv_bytes,
    get_import,
    read_xlsx,
    sheet_file,
    upload,
    where,
    xlsx_bytes,
)

pytestmark = pytest.mark.django_db
FORMATS = ["xlsx", "csv"]
NEIGHBOURS = "North Avenue Residents"


@pytest.fixture
def garden_club(db) -> Group:
    return Group.objects.create(name="Garden Club")


def _nothing_stored() -> None:
    assert Invitation.objects.count() == 0
    assert InvitationBatch.objects.count() == 0
    assert InvitationMessage.objects.count() == 0
    assert mail.outbox == []


def _by_email() -> dict[str, Invitation]:
    return {i.email: i for i in Invitation.objects.prefetch_related("groups")}


# --- Every error, where it is -------------------------------------------------------------


def test_problems_are_written_in_the_uploaders_language(admin, django_capture_on_commit_callbacks):
    """The worker checks the file outside any request, in the platform's default
    language; it writes the problems in the language of the admin who uploaded the
    file, the language of their pages."""
    admin.language = "nl-BE"
    admin.save(update_fields=["language"])
    rows = [[*HEADER, "phone"], ["not an address", "", "", "", "", "", "0470"]]
    with django_capture_on_commit_callbacks(execute=False):  # no check queued inline
        started = invitation_import_start(
            actor=admin,
            upload=SimpleUploadedFile("mensen.csv", csv_bytes(rows)),
            options=InviteOptions(),
        )
    with translation.override("en"):  # the worker's language
        result = invitation_import_check(import_id=started.pk)
    assert result.status == "invalid"
    assert [e["message"] for e in result.errors] == ["not an address is geen geldig e-mailadres."]
    assert [w["message"] for w in result.warnings] == [
        "De kolom phone is onbekend en wordt genegeerd."
    ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_row_error_names_its_row_column_and_value(admin_client, neighbours, fmt):
    rows = [
        HEADER,  # 1
        ["ann@x.example", "Ann", "Ash", "en", NEIGHBOURS, True],  # 2
        ["not an email", "Ben"],  # 3
        None,  # 4: blank, skipped but counted
        ["cleo@x.example", "Cleo", "", "xx-YY"],  # 5
        ["dan@x.example", "Dan", "", "", f"{NEIGHBOURS}, Nowhere Club"],  # 6
        ["ANN@X.example", "Ann", "again"],  # 7: the address of row 2, in capitals
        ["eve@x.example", "Eve", "", "", "", "maybe"],  # 8
        ["fred@", "Fred"],  # 9: no domain
        ["gus @x.example", "Gus"],  # 10: a space
        ["http://x.example/ann", "Hal"],  # 11: a hyperlink
        ["", "Ida"],  # 12: no address at all
        ["ivy@x.example", "Ivy", "", "NL-be", NEIGHBOURS.lower(), "no"],  # 13: fine
    ]
    result = checked(admin_client, *sheet_file(fmt, rows))

    assert result["progress"]["status"] == "invalid"
    assert where(result["errors"]) == [
        ("emails_duplicate", [2, 7], "email", "ann@x.example"),
        ("invalid_email", 3, "email", "not an email"),
        ("unknown_locale", 5, "language", "xx-YY"),
        ("unknown_group", 6, "groups", "Nowhere Club"),
        ("malformed_admin_value", 8, "admin", "maybe"),
        ("invalid_email", 9, "email", "fred@"),
        ("invalid_email", 10, "email", "gus @x.example"),
        ("invalid_email", 11, "email", "http://x.example/ann"),
        ("invalid_email", 12, "email", ""),
    ]
    assert all(e["message"] for e in result["errors"])
    assert result["progress"]["rows_total"] == result["progress"]["rows_checked"] == 11
    assert result["summary"] is None
    assert result["preview"] == []
    _nothing_stored()


def _error_sheet(admin_client, import_id: int, source: str) -> list[list[str]]:
    """The sheet with the error column, from the API or through the admin page's link."""
    if source == "api":
        url = f"{API}/imports/{import_id}/errors.xlsx"
    else:
        url = reverse("web:import-errors", args=[import_id])
        page = admin_client.get(reverse("web:import", args=[import_id]))
        assert f'href="{url}"' in page.content.decode()
    response = admin_client.get(url)
    assert response.status_code == 200
    assert "portico-import-errors.xlsx" in response["Content-Disposition"]
    return read_xlsx(b"".join(response.streaming_content))


@pytest.mark.parametrize("source", ["api", "page"])
def test_the_error_sheet_of_an_xlsx_upload_marks_exactly_the_wrong_rows(
    admin_client, neighbours, source
):
    """The uploaded workbook comes back with its columns and values (as the spreadsheet
    shows them: a number, a boolean), and one more column naming each wrong row's
    problems by code and message; the other rows keep that cell empty."""
    rows = [
        [*HEADER, "message"],
        ["ann@x.example", "Ann", "Ash", "en", NEIGHBOURS, True, "Hello"],
        ["not an email", "Ben", "Birch", "nl-BE", "", False, ""],
        ["cleo@x.example", "Cleo", 1984, "xx-YY", "", "", ""],
        ["dan@x.example", "Dan", "Dunn", "fr-BE", "", "", "Bye"],
    ]
    result = checked(admin_client, "people.xlsx", xlsx_bytes(rows))
    assert where(result["errors"]) == [
        ("invalid_email", 3, "email", "not an email"),
        ("unknown_locale", 4, "language", "xx-YY"),
    ]
    bad_address, bad_language = (f"{e['code']}: {e['message']}" for e in result["errors"])

    assert _error_sheet(admin_client, result["id"], source) == [
        [*HEADER, "message", "errors"],
        ["ann@x.example", "Ann", "Ash", "en", NEIGHBOURS, "TRUE", "Hello", ""],
        ["not an email", "Ben", "Birch", "nl-BE", "", "FALSE", "", bad_address],
        ["cleo@x.example", "Cleo", "1984", "xx-YY", "", "", "", bad_language],
        ["dan@x.example", "Dan", "Dunn", "fr-BE", "", "", "Bye", ""],
    ]


def test_the_error_sheet_corrected_is_uploaded_again_without_a_word_on_its_errors_column(
    admin_client,
):
    rows = [HEADER, ["ann@x.example", "Ann"], ["not an email", "Ben"]]
    result = checked(admin_client, "people.xlsx", xlsx_bytes(rows))
    sheet = _error_sheet(admin_client, result["id"], "api")
    assert sheet[0][-1] == "errors"
    assert sheet[2][-1].startswith("invalid_email: ")

    sheet[2][0] = "ben@x.example"  # corrected; the old note stays, as people leave it
    again = checked(admin_client, "people-corrected.xlsx", xlsx_bytes(sheet))
    assert again["progress"]["status"] == "ready", again["errors"]
    assert again["warnings"] == []
    assert again["summary"]["invited"] == 2


@pytest.mark.parametrize("kind", ["file", "codes"])
def test_a_row_emptied_but_for_its_old_note_is_no_row(admin_client, kind):
    """The admin drops a person by clearing their cells and leaves the note: no error
    for a missing address, and no extra code to print on a letter."""
    first = "" if kind == "codes" else "ann@x.example"
    rows = [HEADER, [first, "Ann"], ["", "", "", "", "", "perhaps"]]
    result = checked(admin_client, "people.xlsx", xlsx_bytes(rows), kind=kind)
    sheet = _error_sheet(admin_client, result["id"], "api")
    assert "malformed_admin_value: " in sheet[2][-1]

    sheet[2][:-1] = [""] * (len(sheet[2]) - 1)  # the row emptied, its note kept
    again = checked(admin_client, "people-corrected.xlsx", xlsx_bytes(sheet), kind=kind)
    assert again["progress"]["status"] == "ready", again["errors"]
    assert again["summary"]["codes" if kind == "codes" else "invited"] == 1


@pytest.mark.parametrize("fmt", FORMATS)
def test_rows_are_numbered_as_the_spreadsheet_shows_them_below_blank_rows(admin_client, fmt):
    """Two blank rows above the header and one in the middle: the numbers stay those of
    the spreadsheet (the header is then row 3)."""
    rows = [
        HEADER,  # 3
        ["ann@x.example"],  # 4
        None,  # 5
        ["bad address"],  # 6
        ["bob@x.example", "", "", "", "", "perhaps"],  # 7
    ]
    if fmt == "xlsx":
        name, content = "top.xlsx", xlsx_bytes(rows, start_row=2)
    else:
        name, content = "top.csv", csv_bytes([None, None, *rows])
    result = checked(admin_client, name, content)
    assert where(result["errors"]) == [
        ("invalid_email", 6, "email", "bad address"),
        ("malformed_admin_value", 7, "admin", "perhaps"),
    ]
    # The error sheet keeps the blank rows: each row has the number its errors name.
    content = admin_client.get(f"{API}/imports/{result['id']}/errors.xlsx")
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(b"".join(content.streaming_content)))
    numbered = {
        number: [str(cell) for cell in cells]
        for number, cells in enumerate(sheet.get_sheet_by_index(0).iter_rows(), start=1)
        if any(cells)
    }
    assert sorted(numbered) == [3, 4, 6, 7]
    assert numbered[3][-1] == "errors"
    assert numbered[4][-1] == ""
    assert numbered[6][-1].startswith("invalid_email: ")
    assert numbered[7][-1].startswith("malformed_admin_value: ")


def test_the_error_sheet_puts_back_a_bounded_number_of_blank_rows(admin_client, monkeypatch):
    """A file of a million blank lines gets no million-row error sheet."""
    monkeypatch.setattr(exports, "BLANK_ROWS_KEPT", 2)
    rows = [HEADER, None, None, None, ["bad address"]]
    result = checked(admin_client, "gaps.csv", csv_bytes(rows))
    assert where(result["errors"]) == [("invalid_email", 5, "email", "bad address")]

    response = admin_client.get(f"{API}/imports/{result['id']}/errors.xlsx")
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(b"".join(response.streaming_content)))
    lines = list(sheet.get_sheet_by_index(0).iter_rows())
    assert len(lines) == 4  # the header, two blank rows of three, the wrong row
    assert lines[3][0] == "bad address"


@pytest.mark.parametrize("fmt", FORMATS)
def test_extra_columns_have_their_own_errors(admin_client, fmt):
    long_name = "N" * 151
    long_message = "m" * 2001
    rows = [
        [*HEADER, "send_invite_email", "message"],
        ["ann@x.example", "", "", "", "", "", "sometimes"],
        None,
        ["bob@x.example", long_name, "", "", "", "", "", long_message],
    ]
    result = checked(admin_client, *sheet_file(fmt, rows))
    assert where(result["errors"]) == [
        ("malformed_send_invite_email_value", 2, "send_invite_email", "sometimes"),
        ("value_too_long", 4, "first_name", "N" * 50 + "…"),
        ("value_too_long", 4, "message", "m" * 50 + "…"),
    ]
    _nothing_stored()


def test_an_untouched_template_invites_nobody(admin_client):
    template = admin_client.get(f"{API}/template.xlsx")
    assert template.status_code == 200
    result = checked(admin_client, "portico-invitations-template.xlsx", template.content)
    assert result["progress"]["status"] == "invalid"
    assert where(result["errors"]) == [("no_invites_specified", None, None, None)]
    _nothing_stored()


def test_the_templates_help_sheet_explains_every_column_language_and_group(
    admin_client, neighbours, staff
):
    """The help sheet explains each column of the template (and the two extra ones), and
    lists every platform language with its name and every group with its kind."""
    Group.objects.create(name="Résidents du Nord, bloc B")
    template = admin_client.get(f"{API}/template.xlsx")
    assert template.status_code == 200
    assert read_xlsx(template.content, sheet=0) == [list(COLUMNS)]

    help_rows = read_xlsx(template.content, sheet=1)
    assert help_rows[0] == ["Column", "What to write", "Example"]
    languages_at = help_rows.index(["Languages", "", ""])
    groups_at = help_rows.index(["Groups", "", ""])

    explained = [row for row in help_rows[1:languages_at] if any(row)]
    assert [row[0] for row in explained] == [*COLUMNS, "send_invite_email", "message"]
    assert all(row[1] for row in explained), explained
    assert dict((row[0], row[2]) for row in explained)["language"] in platform_languages()

    listed = [row[:2] for row in help_rows[languages_at + 1 : groups_at] if any(row)]
    names = dict(settings.LANGUAGES)
    assert listed == [[code, names[code.lower()]] for code in platform_languages()]
    assert all(name for _code, name in listed)

    assert [row[:2] for row in help_rows[groups_at + 1 :]] == [
        [group.name, group.get_kind_display()] for group in Group.objects.order_by("name")
    ]
    assert {row[0] for row in help_rows[groups_at + 1 :]} == {
        NEIGHBOURS,
        "City staff",
        "Résidents du Nord, bloc B",
    }


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_header_without_rows_invites_nobody(admin_client, fmt):
    result = checked(admin_client, *sheet_file(fmt, [HEADER, None, None]))
    assert where(result["errors"]) == [("no_invites_specified", None, None, None)]


def test_an_empty_file_is_refused_at_once(admin_client):
    response = upload(admin_client, "empty.csv", b"")
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "unparseable_file"
    assert not InvitationImport.objects.exists()


def test_a_file_of_blank_lines_invites_nobody(admin_client):
    result = checked(admin_client, "blank.csv", b"\r\n\r\n,,,\r\n  \r\n")
    assert where(result["errors"]) == [("no_invites_specified", None, None, None)]


@pytest.mark.parametrize("fmt", FORMATS)
def test_more_rows_than_the_limit(admin_client, settings, fmt):
    settings.PORTICO_MAX_INVITES = 3
    people = [[f"person{i}@x.example"] for i in range(4)]
    result = checked(admin_client, *sheet_file(fmt, [HEADER, *people]))
    assert result["progress"]["status"] == "invalid"
    assert where(result["errors"]) == [("max_invites_limit_exceeded", None, None, None)]
    assert result["errors"][0]["limit"] == 3
    assert result["errors"][0]["count"] == 4
    _nothing_stored()

    # The limit itself is fine.
    result = checked(admin_client, *sheet_file(fmt, [HEADER, *people[:3]]))
    assert result["progress"]["status"] == "ready"
    assert result["summary"]["invited"] == 3


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_error_sheet_of_a_file_past_the_limit_names_the_problem_without_reading_it(
    admin_client, settings, monkeypatch, fmt
):
    """Its rows are not the problem: the file is not read again (a refused file of a
    million rows would otherwise be re-read and written out inside a web request)."""
    settings.PORTICO_MAX_INVITES = 3
    people = [[f"person{i}@x.example"] for i in range(5)]
    result = checked(admin_client, *sheet_file(fmt, [HEADER, *people]))

    def read_again(*args, **kwargs):
        raise AssertionError("the file was read again")

    monkeypatch.setattr(exports, "read_raw", read_again)
    response = admin_client.get(f"{API}/imports/{result['id']}/errors.xlsx")
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(b"".join(response.streaming_content)))
    lines = list(sheet.get_sheet_by_index(0).iter_rows())
    assert lines[0] == ["errors"]
    assert len(lines) == 2
    assert lines[1][0].startswith("max_invites_limit_exceeded: A batch holds at most 3")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("count", [10, 10_010])
def test_far_more_rows_than_the_limit_are_counted_not_called_unreadable(
    admin_client, settings, fmt, count
):
    """However long the file, it is "too many rows" (with the real count), never an
    unreadable file: the reader stops keeping rows at the limit but goes on counting."""
    settings.PORTICO_MAX_INVITES = 3
    people = [[f"person{i}@x.example"] for i in range(count)]
    result = checked(admin_client, *sheet_file(fmt, [HEADER, *people[:2], None, *people[2:]]))
    assert where(result["errors"]) == [("max_invites_limit_exceeded", None, None, None)]
    assert (result["errors"][0]["limit"], result["errors"][0]["count"]) == (3, count)
    assert f"this one has {count}" in result["errors"][0]["message"]
    _nothing_stored()


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_file_without_an_email_column_is_unparseable(admin_client, fmt):
    rows = [["mail", "name"], ["ann@x.example", "Ann"]]
    result = checked(admin_client, *sheet_file(fmt, rows))
    assert where(result["errors"]) == [("unparseable_file", 1, "email", None)]
    assert "email" in result["errors"][0]["message"]
    _nothing_stored()


# --- Columns ------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_headers_in_any_case_order_and_spacing_and_unknown_columns_ignored(
    admin_client, neighbours, fmt
):
    rows = [
        ["  Groups ", "LAST NAME", " Email", "Admin", "first name ", "Language", "Department"],
        [NEIGHBOURS, "Ash", "ann@x.example", "yes", "Ann", "nl-be", "=HYPERLINK(1)"],
    ]
    result = checked(admin_client, *sheet_file(fmt, rows))
    assert result["progress"]["status"] == "ready", result["errors"]
    assert result["preview"] == [
        {
            "row": 2,
            "action": "invite",
            "email": "ann@x.example",
            "first_name": "Ann",
            "last_name": "Ash",
            "language": "nl-BE",
            "groups": NEIGHBOURS,
            "admin": True,
        }
    ]
    assert [(w["code"], w["column"], w["row"]) for w in result["warnings"]] == [
        ("unknown_column", "Department", 1)
    ]
    assert "Department" in result["warnings"][0]["message"]

    confirm(admin_client, result["id"])
    (invitation,) = Invitation.objects.all()
    assert (invitation.first_name, invitation.last_name, invitation.language) == (
        "Ann",
        "Ash",
        "nl-BE",
    )
    assert "HYPERLINK" not in str(Invitation.objects.values().get())


@pytest.mark.parametrize("bom", [False, True], ids=["no-bom", "utf8-bom"])
def test_csv_with_semicolons(admin_client, neighbours, garden_club, bom):
    rows = [
        ["email", "first_name", "last_name", "groups"],
        ["zoe@x.example", "Zoë", "Müller", f"{NEIGHBOURS}, Garden Club"],
        ["yann@x.example", "Yann", "Le Goff", ""],
    ]
    content = csv_bytes(rows, delimiter=";", bom=bom)
    assert content.startswith(b"\xef\xbb\xbf") == bom
    result = checked(admin_client, "semicolons.csv", content)
    assert result["progress"]["status"] == "ready", result["errors"]
    assert [
        (p["row"], p["email"], p["first_name"], p["last_name"], p["groups"])
        for p in result["preview"]
    ] == [
        (2, "zoe@x.example", "Zoë", "Müller", f"{NEIGHBOURS}, Garden Club"),
        (3, "yann@x.example", "Yann", "Le Goff", ""),
    ]
    assert result["warnings"] == []


def test_csv_with_semicolons_below_blank_lines(admin_client, neighbours):
    """Above the header: an empty line, a line of separators and one of spaces. The
    delimiter is guessed from the header, not from the empty first line, and the rows
    keep the numbers the spreadsheet shows (the header is line 4)."""
    rows = [
        None,  # 1
        ["", "", ""],  # 2: ";;"
        ["   "],  # 3
        ["email", "first_name", "last_name", "groups", "department"],  # 4
        ["zoe@x.example", "Zoë", "Müller", NEIGHBOURS, "Parks"],  # 5
        None,  # 6
        ["yann@x.example", "Yann", "Le Goff", "", "Roads"],  # 7
    ]
    content = csv_bytes(rows, delimiter=";")
    assert content.startswith(b"\r\n;;\r\n   \r\nemail;")
    result = checked(admin_client, "semicolons.csv", content)
    assert result["progress"]["status"] == "ready", result["errors"]
    assert [(p["row"], p["email"], p["first_name"], p["groups"]) for p in result["preview"]] == [
        (5, "zoe@x.example", "Zoë", NEIGHBOURS),
        (7, "yann@x.example", "Yann", ""),
    ]
    assert [(w["code"], w["row"], w["column"]) for w in result["warnings"]] == [
        ("unknown_column", 4, "department")
    ]


# --- Overrides and fall-backs --------------------------------------------------------------


def test_yes_and_no_as_dutch_and_french_excel_write_them_in_a_csv_file(admin_client):
    """Saved as CSV by Excel in Dutch or French, TRUE and FALSE become WAAR/ONWAAR and
    VRAI/FAUX (and the separator a semicolon)."""
    rows = [
        ["email", "admin", "send_invite_email"],
        ["ann@x.example", "WAAR", "ONWAAR"],
        ["bob@x.example", "ONWAAR", "WAAR"],
        ["cleo@x.example", "VRAI", "FAUX"],
        ["dan@x.example", "Faux", "Vrai"],
    ]
    result = checked(admin_client, "mensen.csv", csv_bytes(rows, delimiter=";"))
    assert result["progress"]["status"] == "ready", result["errors"]
    confirm(admin_client, result["id"])
    got = {i.email: (i.is_admin, i.send_email) for i in Invitation.objects.all()}
    assert got == {
        "ann@x.example": (True, False),
        "bob@x.example": (False, True),
        "cleo@x.example": (True, False),
        "dan@x.example": (False, True),
    }


@pytest.mark.parametrize("fmt", FORMATS)
def test_cells_override_the_batch_options_and_empty_cells_fall_back(
    admin_client, neighbours, garden_club, fmt
):
    rows = [
        [*HEADER, "send_invite_email", "message"],
        ["ann@x.example", "Ann", "Ash", "nl-be", "Garden Club", "no", "YES", "Row note"],
        ["bob@x.example", "Bob", "Birch", "", "", "", "", ""],
    ]
    result = checked(
        admin_client,
        *sheet_file(fmt, rows),
        language="fr-BE",
        group_ids=[neighbours.pk],
        is_admin="true",
        send_email="false",
        message="Batch note",
    )
    assert result["progress"]["status"] == "ready", result["errors"]
    assert [(p["email"], p["language"], p["groups"], p["admin"]) for p in result["preview"]] == [
        ("ann@x.example", "nl-BE", "Garden Club", False),
        ("bob@x.example", "fr-BE", NEIGHBOURS, True),
    ]
    assert result["summary"]["emails"] == 1
    assert result["summary"]["admins"] == 1

    confirm(admin_client, result["id"])
    ann, bob = _by_email()["ann@x.example"], _by_email()["bob@x.example"]
    assert ann.language == "nl-BE"
    assert [g.name for g in ann.groups.all()] == ["Garden Club"]
    assert ann.is_admin is False
    assert ann.send_email is True
    assert "Row note" in ann.message
    assert "Batch note" not in ann.message
    assert bob.language == "fr-BE"
    assert [g.name for g in bob.groups.all()] == [NEIGHBOURS]
    assert bob.is_admin is True
    assert bob.send_email is False
    assert "Batch note" in bob.message
    assert [m.to for m in mail.outbox] == [["ann@x.example"]]
    assert "Row note" in mail.outbox[0].body


# --- Preview, confirm, progress -----------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_preview_writes_nothing_until_confirmed(
    admin_client, resident, neighbours, invite, fmt
):
    pending = invite("pat.pending@x.example")
    mail.outbox.clear()
    invitations_before = Invitation.objects.count()
    batches_before = InvitationBatch.objects.count()
    messages_before = InvitationMessage.objects.count()
    audit_before = AuditEvent.objects.count()

    rows = [HEADER, ["new.person@x.example"], [resident.email.upper()], [pending.email]]
    result = checked(admin_client, *sheet_file(fmt, rows), group_ids=[neighbours.pk])
    assert result["progress"]["status"] == "ready", result["errors"]
    assert [(p["row"], p["action"]) for p in result["preview"]] == [
        (2, "invite"),
        (3, "update_user"),
        (4, "merge"),
    ]
    assert result["summary"]["invited"] == 1
    assert result["summary"]["updated"] == 1
    assert result["summary"]["merged"] == 1
    assert result["summary"]["emails"] == 1

    # Nothing yet: no invitation, no outbox row, no mail, no group, only the upload's audit.
    assert Invitation.objects.count() == invitations_before
    assert InvitationBatch.objects.count() == batches_before
    assert InvitationMessage.objects.count() == messages_before
    assert mail.outbox == []
    assert not Membership.objects.filter(group=neighbours).exists()
    assert not pending.groups.exists()
    assert list(
        AuditEvent.objects.order_by("id")[audit_before:].values_list("verb", flat=True)
    ) == ["invitation_import.uploaded"]

    confirm(admin_client, result["id"])
    assert Invitation.objects.count() == invitations_before + 1
    assert Membership.objects.filter(group=neighbours, user=resident).exists()
    assert list(pending.groups.all()) == [neighbours]
    assert [m.to for m in mail.outbox] == [["new.person@x.example"]]


def test_the_preview_shows_what_each_row_will_be_not_what_its_cells_say(
    admin_client, invite, neighbours, garden_club
):
    """A pending invitation keeps its names, language and admin rights and gains the
    row's groups; a registered user keeps theirs; the admin sees that before confirming."""
    invite("Ann Ash <ann@x.example>", is_admin=True, language="en", group_ids=[neighbours.pk])
    make_user("bob@x.example", first_name="Bob", last_name="Birch", language="fr-BE")
    rows = [
        HEADER,
        ["ann@x.example", "Annie", "Other", "fr-BE", "Garden Club", "FALSE"],
        ["bob@x.example", "Robert", "Other", "nl-BE", "Garden Club", "TRUE"],
    ]
    result = checked(admin_client, "people.csv", csv_bytes(rows))
    assert result["summary"]["merged"] == 1
    assert result["summary"]["updated"] == 1
    shown = [
        (p["action"], p["first_name"], p["last_name"], p["language"], p["groups"], p["admin"])
        for p in result["preview"]
    ]
    assert shown == [
        ("merge", "Ann", "Ash", "en", f"{NEIGHBOURS}, Garden Club", True),
        ("update_user", "Bob", "Birch", "fr-BE", "Garden Club", True),
    ]

    confirm(admin_client, result["id"])
    ann = Invitation.objects.get(email="ann@x.example")
    assert (ann.first_name, ann.last_name, ann.language, ann.is_admin) == ("Ann", "Ash", "en", True)
    assert {g.name for g in ann.groups.all()} == {NEIGHBOURS, "Garden Club"}


def test_the_summary_counts_unconfirmed_accounts_an_invitation_replaces(admin_client):
    """Someone who signed up and never confirmed their address is invited: the account
    makes way for the invitation, and the admin is told before confirming."""
    make_user("una@x.example", verified=False)
    result = checked(admin_client, "people.csv", csv_bytes([HEADER, ["una@x.example"]]))
    assert (result["summary"]["invited"], result["summary"]["replaced"]) == (1, 1)
    page = admin_client.get(reverse("web:import", args=[result["id"]])).content.decode()
    assert 'data-testid="count-replaced">1<' in page


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_expired_invitation_in_a_file_is_previewed_as_renewed_and_sent_again(
    admin_client, invite, fmt
):
    """Invited 31 days ago and marked expired by the nightly job: the file's row is
    previewed as a renewal, and once stored the same invitation is pending again, with a
    new lifetime and one more email."""
    with time_machine.travel(timezone.now() - timedelta(days=31)):
        expired = invite("erin@x.example")
    assert invitations_expire(now=timezone.now()) == 1
    expired.refresh_from_db()
    assert expired.status == Invitation.Status.EXPIRED
    old_expiry = expired.expires_at
    assert len(mail_to("erin@x.example")) == 1

    rows = [HEADER, ["new.person@x.example"], ["Erin@x.example", "Erin"]]
    result = checked(admin_client, *sheet_file(fmt, rows))
    assert result["progress"]["status"] == "ready", result["errors"]
    assert [(p["row"], p["action"]) for p in result["preview"]] == [(2, "invite"), (3, "renew")]
    assert result["summary"]["renewed"] == 1
    assert result["summary"]["invited"] == 1
    assert result["summary"]["emails"] == 2
    assert len(mail_to("erin@x.example")) == 1  # the preview sends nothing

    before = timezone.now()
    confirm(admin_client, result["id"])
    assert get_import(admin_client, result["id"])["progress"]["status"] == "done"
    renewed = Invitation.objects.get(email="erin@x.example")
    assert renewed.pk == expired.pk
    assert renewed.token == expired.token
    assert renewed.status == Invitation.Status.PENDING
    assert renewed.sent_at >= before
    assert renewed.expires_at > old_expiry
    assert renewed.expires_at - renewed.sent_at == timedelta(days=30)
    assert InvitationMessage.objects.filter(invitation=renewed).count() == 2
    assert len(mail_to("erin@x.example")) == 2


@pytest.mark.parametrize("fmt", FORMATS)
def test_confirm_stores_sends_and_reports_progress_once(admin, admin_client, fmt):
    rows = [HEADER, ["ann@x.example", "Ann"], None, ["bob@x.example"], ["cleo@x.example"]]
    result = checked(admin_client, *sheet_file(fmt, rows))
    assert result["progress"] == {
        "status": "ready",
        "rows_total": 3,
        "rows_checked": 3,
        "to_store": 0,
        "stored": 0,
        "emails_queued": 0,
        "emails_sent": 0,
        "emails_not_sent": 0,
        "mail_done": False,  # nothing stored yet
    }

    response = confirm(admin_client, result["id"])
    assert response.status_code == 202, response.content
    done = get_import(admin_client, result["id"])
    assert done["progress"] == {
        "status": "done",
        "rows_total": 3,
        "rows_checked": 3,
        "to_store": 3,
        "stored": 3,
        "emails_queued": 3,
        "emails_sent": 3,
        "emails_not_sent": 0,
        "mail_done": True,
    }
    assert sorted(m.to[0] for m in mail.outbox) == [
        "ann@x.example",
        "bob@x.example",
        "cleo@x.example",
    ]
    (batch,) = InvitationBatch.objects.all()
    assert batch.source == InvitationBatch.Source.FILE
    assert set(Invitation.objects.values_list("batch", flat=True)) == {batch.pk}
    assert set(Invitation.objects.values_list("inviter", flat=True)) == {admin.pk}
    verbs = list(AuditEvent.objects.order_by("id").values_list("verb", flat=True))
    assert verbs.count("invitation_import.confirmed") == 1
    assert verbs.count("invitation_import.stored") == 1

    # Confirming again changes nothing.
    again = confirm(admin_client, result["id"])
    assert again.status_code == 202
    assert again.json()["progress"] == done["progress"]
    assert Invitation.objects.count() == 3
    assert InvitationBatch.objects.count() == 1
    assert InvitationMessage.objects.count() == 3
    assert len(mail.outbox) == 3
    assert AuditEvent.objects.filter(verb="invitation_import.confirmed").count() == 1


def test_an_invalid_import_cannot_be_confirmed(admin_client):
    result = checked(admin_client, "bad.csv", csv_bytes([HEADER, ["nope"]]))
    response = confirm(admin_client, result["id"])
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "import_not_ready"
    _nothing_stored()


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_import_that_became_invalid_before_the_confirm_stores_nothing(
    admin_client, neighbours, garden_club, fmt
):
    rows = [
        HEADER,
        ["ann@x.example", "", "", "", NEIGHBOURS],
        None,
        ["bob@x.example", "", "", "", "Garden Club"],
    ]
    result = checked(admin_client, *sheet_file(fmt, rows))
    assert result["progress"]["status"] == "ready"

    garden_club.delete()
    response = confirm(admin_client, result["id"])
    assert response.status_code == 202

    after = get_import(admin_client, result["id"])
    assert after["progress"]["status"] == "invalid"
    assert after["progress"]["stored"] == 0
    assert where(after["errors"]) == [("unknown_group", 4, "groups", "Garden Club")]
    _nothing_stored()
    assert confirm(admin_client, result["id"]).status_code == 409
    _nothing_stored()


def test_the_openapi_schema_describes_an_imports_summary_problems_and_preview():
    from portico.core.api import api

    schemas = api.get_openapi_schema()["components"]["schemas"]
    import_out = schemas["ImportOut"]["properties"]
    assert set(schemas["ImportSummary"]["properties"]) == {
        "invited",
        "codes",
        "updated",
        "merged",
        "renewed",
        "existing",
        "admins",
        "emails",
        "replaced",
    }
    assert {"code", "message", "row", "rows", "column", "value"} <= set(
        schemas["ImportProblem"]["properties"]
    )
    assert "header = 1" in schemas["PreviewRow"]["properties"]["row"]["description"]
    assert {"emails_not_sent", "mail_done"} <= set(schemas["ImportProgress"]["properties"])
    assert {"summary", "errors", "warnings", "preview", "preview_count"} <= set(import_out)


def test_a_problems_keys_that_do_not_apply_are_left_out(admin_client):
    rows = [["email"], ["ann@x.example"], ["ann@x.example"], ["not an email"]]
    result = checked(admin_client, "people.csv", csv_bytes(rows))

    duplicate, invalid = sorted(result["errors"], key=lambda e: e["code"])
    assert set(duplicate) == {"code", "message", "rows", "column", "value"}
    assert set(invalid) == {"code", "message", "row", "column", "value"}


@pytest.mark.parametrize("kind", ["code", "CODES", ""])
def test_an_unknown_kind_of_import_is_refused(admin_client, kind):
    """Not taken as an ordinary import whose every empty address would be an error."""
    response = upload(admin_client, "codes.csv", csv_bytes([HEADER, [""]]), kind=kind)
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert (error["code"], error["field"]) == ("invalid", "kind")
    assert not InvitationImport.objects.exists()


def test_the_import_counts_every_problem_beyond_the_thousand_it_lists(admin_client):
    rows = [HEADER, *([f"bad address {n}"] for n in range(1_005))]
    result = checked(admin_client, "bad.csv", csv_bytes(rows))
    assert (len(result["errors"]), result["error_count"]) == (1_000, 1_005)


def test_an_upload_without_a_file_names_the_missing_field(admin_client):
    response = admin_client.post(f"{API}/imports", {"kind": "file"})
    assert response.status_code == 422
    assert [(e["code"], e["field"]) for e in response.json()["errors"]] == [("invalid", "file")]
