"""Spreadsheet imports, row by row, from real .xlsx and .csv files: every error with the
row number the spreadsheet shows (the header is row 1, blank rows are skipped but
counted), its column and its value; cells overriding the batch options and empty cells
falling back to them; a preview that writes nothing; confirming that stores and sends
once; and an import whose data changed before the confirm storing nothing."""

from __future__ import annotations

import pytest
from django.core import mail

from portico.core.models import AuditEvent
from portico.groups.models import Group, Membership
from portico.invitations.models import (
    Invitation,
    InvitationBatch,
    InvitationImport,
    InvitationMessage,
)
from tests.invitations.sheet_files import (
    API,
    HEADER,
    checked,
    confirm,
    csv_bytes,
    get_import,
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
    assert result["summary"] == {}
    assert result["preview"] == []
    _nothing_stored()


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


# --- Overrides and fall-backs --------------------------------------------------------------


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
