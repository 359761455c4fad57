"""Exporting the invitation list (.xlsx and .csv): the product's columns with their
values and working tokens, the current filter, no cell a spreadsheet would run as a
formula, an audit entry per export, admins only, a streamed CSV; and an export
re-imported is a preview where every row is already invited."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime, timedelta

import pytest
from django.core import mail
from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone

from portico.core.models import AuditEvent
from portico.groups.models import Group
from portico.invitations.models import Invitation, InvitationImport, InvitationMessage
from portico.invitations.services.accept import invitation_accept
from tests.conftest import PASSWORD
from tests.invitations.sheet_files import (
    API,
    HEADER,
    checked,
    confirm,
    csv_bytes,
    get_import,
    read_csv,
    read_xlsx,
    upload,
)

pytestmark = pytest.mark.django_db

COLUMNS = [
    "token",
    "status",
    "email",
    "first_name",
    "last_name",
    "language",
    "groups",
    "admin",
    "moderated_projects",
    "inviter",
    "sent",
    "expires",
    "accepted",
]
FORMATS = ["xlsx", "csv"]


@pytest.fixture
def people(admin, invite, make_code, neighbours, garden) -> dict[str, Invitation]:
    """A pending admin-to-be (with a group and a project to moderate), an accepted one,
    an expired one, a code, and two whose names start like formulas."""
    gardeners = Group.objects.create(name="Garden Club")
    ann = invite(
        "Ann Ash <ann@x.example>",
        is_admin=True,
        moderator=True,
        project_ids=[garden.pk],
        group_ids=[neighbours.pk, gardeners.pk],
        language="nl-BE",
    )
    bob = invite("Bob Birch <bob@x.example>")
    invitation_accept(token=bob.token, first_name="Bob", last_name="Birch", password=PASSWORD)
    cleo = invite("Cleo Cedar <cleo@x.example>", language="fr-BE")
    Invitation.objects.filter(pk=cleo.pk).update(expires_at=timezone.now() - timedelta(days=1))
    code = make_code(group_ids=[neighbours.pk])
    dan = invite("dan@x.example")
    eve = invite("eve@x.example")
    Invitation.objects.filter(pk=dan.pk).update(first_name="=1+1", last_name="+32 470 12 34 56")
    Invitation.objects.filter(pk=eve.pk).update(first_name="-2+3", last_name="@SUM(A1:A9)")
    mail.outbox.clear()
    return {
        "ann": ann,
        "bob": bob,
        "cleo": cleo,
        "code": code,
        "dan": dan,
        "eve": eve,
    }


def _date(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def _expected_row(invitation: Invitation) -> list[str]:
    invitation.refresh_from_db()
    return [
        invitation.token_display,
        invitation.effective_status(),
        invitation.email or "",
        invitation.first_name,
        invitation.last_name,
        invitation.language,
        ", ".join(g.name for g in invitation.groups.order_by("name")),
        "TRUE" if invitation.is_admin else "FALSE",
        ", ".join(p.title for p in invitation.moderated_projects.all()),
        invitation.inviter.email,
        _date(invitation.sent_at) if invitation.email and invitation.send_email else "",
        _date(invitation.expires_at),
        _date(invitation.accepted_at),
    ]


def _export(client, fmt: str, url: str = f"{API}/export", **params):
    return client.get(url, {"format": fmt, **params})


def _rows(response, fmt: str) -> list[list[str]]:
    """The cells as text; the .xlsx date cells written as the CSV writes them."""
    content = b"".join(response.streaming_content)
    rows = read_xlsx(content) if fmt == "xlsx" else read_csv(content)
    return [
        [c.strftime("%Y-%m-%d %H:%M") if isinstance(c, datetime) else str(c) for c in row]
        for row in rows
    ]


def _neutralised(value: str) -> str:
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_export_has_the_columns_and_values_of_every_invitation(
    admin, admin_client, people, fmt
):
    response = _export(admin_client, fmt)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment; filename=")
    assert response["Content-Disposition"].endswith(f'.{fmt}"')
    header, *rows = _rows(response, fmt)
    assert header == COLUMNS
    expected = {name: [_neutralised(v) for v in _expected_row(i)] for name, i in people.items()}
    assert sorted(rows) == sorted(expected.values())

    by_email = {row[2]: dict(zip(COLUMNS, row, strict=True)) for row in rows}
    ann = by_email["ann@x.example"]
    assert ann["token"] == people["ann"].token_display
    assert (ann["status"], ann["first_name"], ann["last_name"]) == ("pending", "Ann", "Ash")
    assert (ann["language"], ann["admin"]) == ("nl-BE", "TRUE")
    assert ann["groups"] == "Garden Club, North Avenue Residents"
    assert ann["moderated_projects"] == "Community garden"
    assert ann["inviter"] == admin.email
    assert ann["sent"]
    assert ann["expires"]
    assert not ann["accepted"]
    assert by_email["bob@x.example"]["status"] == "accepted"
    assert by_email["bob@x.example"]["accepted"]
    assert by_email["cleo@x.example"]["status"] == "expired"
    code = by_email[""]
    assert code["token"] == people["code"].token_display
    assert (code["status"], code["groups"]) == ("pending", "North Avenue Residents")
    assert (code["sent"], bool(code["expires"])) == ("", True)  # a code is never mailed


def test_the_xlsx_has_date_cells_a_frozen_filterable_header_and_wide_columns(admin_client, people):
    """Dates an admin can sort and filter as dates; the header stays in view."""
    content = b"".join(_export(admin_client, "xlsx").streaming_content)
    header, *rows = read_xlsx(content)
    sent, expires = header.index("sent"), header.index("expires")
    ann = next(r for r in rows if r[2] == "ann@x.example")
    local = timezone.localtime(people["ann"].expires_at)
    assert ann[expires] == local.replace(tzinfo=None, second=0, microsecond=0)
    assert isinstance(ann[sent], datetime)
    code = next(r for r in rows if r[2] == "")
    assert code[sent] == ""  # never mailed: no date at all

    sheet = zipfile.ZipFile(io.BytesIO(content)).read("xl/worksheets/sheet1.xml").decode()
    assert '<pane ySplit="1"' in sheet
    assert f'<autoFilter ref="A1:M{len(rows) + 1}"/>' in sheet
    assert '<col min="3" max="3" width="32.7109375"' in sheet  # email


@pytest.mark.parametrize("fmt", FORMATS)
def test_cells_that_look_like_formulas_are_neutralised(admin_client, people, fmt):
    response = _export(admin_client, fmt)
    content = b"".join(response.streaming_content)
    if fmt == "xlsx":
        with zipfile.ZipFile(io.BytesIO(content)) as workbook:
            assert b"<f>" not in workbook.read("xl/worksheets/sheet1.xml")
        rows = read_xlsx(content)
    else:
        rows = read_csv(content)
    by_email = {row[2]: row for row in rows[1:]}
    assert by_email["dan@x.example"][3:5] == ["'=1+1", "'+32 470 12 34 56"]
    assert by_email["eve@x.example"][3:5] == ["'-2+3", "'@SUM(A1:A9)"]
    assert by_email["ann@x.example"][3:5] == ["Ann", "Ash"]  # others untouched


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"q": "ann"}, ["ann"]),
        ({"q": "ASH"}, ["ann"]),  # last name, any case
        ({"status": "pending"}, ["ann", "code", "dan", "eve"]),
        ({"status": "accepted"}, ["bob"]),
        ({"status": "expired"}, ["cleo"]),
        ({"q": "x.example", "status": "expired"}, ["cleo"]),
        ({"q": "nobody"}, []),
    ],
)
def test_the_export_applies_the_current_filter(admin_client, people, fmt, params, names):
    rows = _rows(_export(admin_client, fmt, **params), fmt)[1:]
    assert sorted(row[0] for row in rows) == sorted(people[n].token_display for n in names)
    event = AuditEvent.objects.get(verb="invitation.exported")
    assert event.details["count"] == len(names)
    assert event.details["search"] == params.get("q", "")
    assert event.details["status"] == params.get("status", "")


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_export_is_audited(admin, admin_client, people, fmt):
    _export(admin_client, fmt)
    _export(admin_client, fmt, url="/manage/invitations/export/", status="pending")
    events = list(AuditEvent.objects.filter(verb="invitation.exported").order_by("id"))
    assert [(e.actor, e.details["format"], e.details["count"]) for e in events] == [
        (admin, fmt, 6),
        (admin, fmt, 4),
    ]


def test_the_admin_page_exports_the_filtered_list(admin_client, people):
    response = admin_client.get("/manage/invitations/export/", {"format": "csv", "q": "cleo"})
    assert response.status_code == 200
    rows = _rows(response, "csv")
    assert rows[0] == COLUMNS
    assert [r[2] for r in rows[1:]] == ["cleo@x.example"]


def test_the_csv_is_streamed_and_the_xlsx_is_a_file(admin_client, people):
    csv_response = _export(admin_client, "csv")
    assert isinstance(csv_response, StreamingHttpResponse)
    assert csv_response["Content-Type"] == "text/csv; charset=utf-8"
    chunks = list(csv_response.streaming_content)
    assert len(chunks) == 1 + len(people)  # the header, then one line per invitation
    assert chunks[0].startswith(b"\xef\xbb\xbf")  # Excel reads the accents

    xlsx_response = _export(admin_client, "xlsx")
    assert isinstance(xlsx_response, FileResponse)
    assert b"".join(xlsx_response.streaming_content).startswith(b"PK\x03\x04")


def test_an_unknown_format_is_refused(admin_client, people):
    response = _export(admin_client, "pdf")
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "invalid"
    assert not AuditEvent.objects.filter(verb="invitation.exported").exists()


@pytest.mark.parametrize("status", ["bogus", "Accepted", "pending "])
def test_an_unknown_status_is_refused_rather_than_exporting_everything(
    admin_client, people, status
):
    # A mistyped filter that widened to every invitation would hand out every token.
    response = _export(admin_client, "csv", status=status)
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert (error["code"], error["field"], error["value"]) == ("unknown_status", "status", status)
    assert not AuditEvent.objects.filter(verb="invitation.exported").exists()


def test_the_admin_page_says_an_unknown_status_and_exports_nothing(admin_client, people):
    response = admin_client.get(
        "/manage/invitations/export/", {"format": "csv", "status": "bogus"}, follow=True
    )
    assert "bogus is not a status of the list." in response.content.decode()
    assert not AuditEvent.objects.filter(verb="invitation.exported").exists()


def test_residents_and_visitors_cannot_export(resident_client, anonymous_client, people):
    for fmt in FORMATS:
        response = _export(resident_client, fmt)
        assert response.status_code == 403
        assert response.json()["errors"][0]["code"] == "permission_denied"
        assert _export(resident_client, fmt, url="/manage/invitations/export/").status_code == 403
        assert _export(anonymous_client, fmt).status_code == 401
        page = _export(anonymous_client, fmt, url="/manage/invitations/export/")
        assert page.status_code == 302
    for url in (f"{API}/template.xlsx", "/manage/invitations/template.xlsx"):
        assert resident_client.get(url).status_code == 403
    # Refused for who is asking, not for what is sent: a well-formed file gets the same 403.
    refused = upload(resident_client, "people.csv", csv_bytes([HEADER, ["ann@x.example"]]))
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["code"] == "permission_denied"
    assert not InvitationImport.objects.exists()
    assert not AuditEvent.objects.filter(verb="invitation.exported").exists()


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_export_reimported_is_a_preview_of_rows_already_invited(admin_client, people, fmt):
    response = _export(admin_client, fmt)
    content = b"".join(response.streaming_content)
    invitations_before = list(Invitation.objects.order_by("pk").values())
    messages_before = InvitationMessage.objects.count()

    result = checked(admin_client, f"export.{fmt}", content)
    assert result["progress"]["status"] == "ready", result["errors"]
    count = len(people)
    assert result["summary"]["existing"] == count
    assert result["summary"]["invited"] == 0
    assert result["summary"]["codes"] == 0
    assert result["summary"]["emails"] == 0
    assert [p["action"] for p in result["preview"]] == ["existing"] * count
    assert [p["row"] for p in result["preview"]] == list(range(2, count + 2))
    unknown = {w["column"] for w in result["warnings"] if w["code"] == "unknown_column"}
    assert unknown == {"status", "moderated_projects", "inviter", "sent", "expires", "accepted"}

    response = confirm(admin_client, result["id"])
    assert response.status_code == 202
    assert get_import(admin_client, result["id"])["progress"]["status"] == "done"
    assert list(Invitation.objects.order_by("pk").values()) == invitations_before
    assert InvitationMessage.objects.count() == messages_before
    assert mail.outbox == []
    dan = Invitation.objects.get(pk=people["dan"].pk)
    assert dan.first_name == "=1+1"  # the apostrophe of the export is not taken in


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_export_with_a_comma_in_a_group_name_is_reimported_as_already_invited(
    admin_client, invite, fmt
):
    """The export writes a person's groups as one cell, separated by commas; a group
    whose own name has a comma is found again whole, not as two unknown groups."""
    north = Group.objects.create(name="Residents, North")
    youth = Group.objects.create(name="Youth")
    invite("zoe@x.example", group_ids=[north.pk, youth.pk])
    content = b"".join(_export(admin_client, fmt).streaming_content)

    result = checked(admin_client, f"export.{fmt}", content)
    assert result["progress"]["status"] == "ready", result["errors"]
    assert [p["action"] for p in result["preview"]] == ["existing"]


def test_a_groups_cell_names_a_group_with_a_comma_whole(admin_client):
    north = Group.objects.create(name="Residents, North")
    youth = Group.objects.create(name="Youth")
    rows = [
        ["email", "groups"],
        ["zoe@x.example", "residents,north , Youth"],
        ["yan@x.example", "Youth, Residents, North"],
        ["xia@x.example", "Residents"],
    ]
    result = checked(admin_client, "people.csv", csv_bytes(rows))
    # "Residents" alone is no group: reported as typed, on its own row only.
    assert [(e["code"], e["row"], e["value"]) for e in result["errors"]] == [
        ("unknown_group", 4, "Residents")
    ]

    result = checked(admin_client, "people.csv", csv_bytes(rows[:3]))
    assert result["progress"]["status"] == "ready", result["errors"]
    confirm(admin_client, result["id"])
    for email in ("zoe@x.example", "yan@x.example"):
        invitation = Invitation.objects.get(email=email)
        assert set(invitation.groups.all()) == {north, youth}


def test_the_admin_pages_csv_is_separated_as_excel_expects_in_the_admins_language(
    admin, admin_client, people
):
    """Excel in Belgium reads semicolons (its decimal separator is a comma): in Dutch or
    French the page's CSV has them, and opens in columns; in English, commas."""
    english = admin_client.get("/manage/invitations/export/", {"format": "csv"})
    assert b"".join(english.streaming_content).decode("utf-8-sig").startswith("token,status,")
    admin.language = "nl-BE"
    admin.save(update_fields=["language"])
    dutch = admin_client.get("/manage/invitations/export/", {"format": "csv"})
    content = b"".join(dutch.streaming_content)
    assert content.decode("utf-8-sig").startswith("token;status;email;")

    # Portico reads it back as it reads Excel's own semicolon files.
    result = checked(admin_client, "export.csv", content)
    assert result["progress"]["status"] == "ready", result["errors"]
    assert result["summary"]["existing"] == len(people)


def test_the_api_csv_uses_commas_unless_asked_for_semicolons(admin_client, people):
    default = b"".join(_export(admin_client, "csv").streaming_content).decode("utf-8-sig")
    assert default.startswith("token,status,")
    asked = _export(admin_client, "csv", delimiter="semicolon")
    assert b"".join(asked.streaming_content).decode("utf-8-sig").startswith("token;status;")
    refused = _export(admin_client, "csv", delimiter="tab")
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "delimiter"
