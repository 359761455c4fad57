"""Registration codes for letters, end to end: the "Generate codes" tab turns rows
without an address into invitations without email (no mail); the codes are in the API
list and in the export's token column; a resident types theirs at /invite, in lower
case with spaces, gives an address on the accept form and joins the group."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.urls import reverse

from portico.accounts.models import User
from portico.core.models import AuditEvent
from portico.groups.models import Membership
from portico.invitations.models import (
    Invitation,
    InvitationBatch,
    InvitationImport,
    InvitationMessage,
)
from tests.conftest import PASSWORD
from tests.invitations.sheet_files import (
    API,
    HEADER,
    checked,
    confirm,
    get_import,
    read_csv,
    sheet_file,
)

pytestmark = pytest.mark.django_db
NEIGHBOURS = "North Avenue Residents"


def _generate_codes(client, fmt: str, rows, **options) -> InvitationImport:
    """The admin uploads the file on the Generate codes tab, sees the preview and
    confirms it."""
    name, content = sheet_file(fmt, rows)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(
            reverse("web:generate-codes"),
            {"file": SimpleUploadedFile(name, content), "language": "en", **options},
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    invitation_import = InvitationImport.objects.get()
    assert response["Location"] == reverse("web:import", kwargs={"pk": invitation_import.pk})
    assert invitation_import.kind == InvitationImport.Kind.CODES

    preview = client.get(response["Location"])
    html = preview.content.decode()
    assert preview.status_code == 200
    assert invitation_import.status == InvitationImport.Status.READY
    codes = sum(1 for r in rows[1:] if r)
    assert f'<strong data-testid="count-codes">{codes}</strong>' in html
    assert '<strong data-testid="count-invited">0</strong>' in html
    assert 'data-testid="confirm-import"' in html
    assert Invitation.objects.count() == 0

    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(reverse("web:import-confirm", kwargs={"pk": invitation_import.pk}))
    assert response.status_code == 302
    invitation_import.refresh_from_db()
    assert invitation_import.status == InvitationImport.Status.DONE
    return invitation_import


def test_the_generate_codes_tab(admin_client):
    response = admin_client.get(reverse("web:generate-codes"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Generate registration codes" in html
    assert f'href="{reverse("web:template")}?kind=codes"' in html
    template = admin_client.get(reverse("web:template"), {"kind": "codes"})
    assert template.status_code == 200
    assert "portico-codes-template.xlsx" in template["Content-Disposition"]


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_codes_from_empty_email_cells_are_in_the_list_the_export_and_accepted_at_invite(
    admin, admin_client, anonymous_client, neighbours, fmt
):
    rows = [
        HEADER,
        ["", "", "", "", NEIGHBOURS],
        None,
        ["", "Nora", "North", "", NEIGHBOURS],
        ["", "", "", "nl-be", NEIGHBOURS],
    ]
    invitation_import = _generate_codes(admin_client, fmt, rows)

    # Three invitations without an address, in the group, and no mail at all.
    codes = list(Invitation.objects.order_by("id").prefetch_related("groups"))
    assert len(codes) == 3
    assert all(c.email is None for c in codes)
    assert all([g.name for g in c.groups.all()] == [NEIGHBOURS] for c in codes)
    assert all(c.send_email is False for c in codes)
    assert [c.language for c in codes] == ["en", "en", "nl-BE"]
    assert invitation_import.batch.source == InvitationBatch.Source.CODES
    assert InvitationMessage.objects.count() == 0
    assert mail.outbox == []
    assert invitation_import.emails_queued == 0
    tokens = {c.token_display for c in codes}
    assert len(tokens) == 3

    # The codes are in the API list...
    listing = admin_client.get(API, {"page_size": 10, "include_tokens": "true"})
    assert listing.status_code == 200
    items = listing.json()["items"]
    assert {i["token"] for i in items} == tokens
    assert all(i["email"] is None and i["status"] == "pending" for i in items)
    assert all(i["group_ids"] == [neighbours.pk] for i in items)

    # ...and in the export's token column.
    export = admin_client.get(f"{API}/export", {"format": "csv"})
    header, *exported = read_csv(b"".join(export.streaming_content))
    assert {row[header.index("token")] for row in exported} == tokens
    assert all(row[header.index("email")] == "" for row in exported)

    # Nora types her code at /invite, in lower case with spaces.
    nora = next(c for c in codes if c.first_name == "Nora")
    typed = "  " + nora.token_display.lower().replace("-", " ") + " "
    response = anonymous_client.post(reverse("invitations:enter"), {"token": typed})
    assert response.status_code == 302
    assert response["Location"] == reverse("invitations:accept", kwargs={"token": nora.token})

    # The accept form asks for her address (it is not fixed: the code has none).
    form_page = anonymous_client.get(response["Location"])
    assert form_page.status_code == 200
    form = form_page.context["form"]
    assert form.fields["email"].required
    assert not form.fields["email"].disabled
    assert form["first_name"].value() == "Nora"
    html = form_page.content.decode()
    email_input = html.split('name="email"', 1)[1].split(">", 1)[0]
    assert "disabled" not in email_input

    fields = {"first_name": "Nora", "last_name": "North", "password": PASSWORD}
    response = anonymous_client.post(response["Location"], fields)
    assert response.status_code == 200
    assert response.context["form"].errors["email"]
    assert not User.objects.filter(first_name="Nora").exists()

    response = anonymous_client.post(
        reverse("invitations:accept", kwargs={"token": nora.token}),
        {**fields, "email": "Nora.North@Mail.example"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/"
    user = User.objects.get(email__iexact="nora.north@mail.example")
    assert (user.first_name, user.last_name) == ("Nora", "North")
    assert user.email_verified
    assert not user.is_admin
    assert Membership.objects.filter(group=neighbours, user=user).exists()
    assert anonymous_client.session["_auth_user_id"] == str(user.pk)
    nora.refresh_from_db()
    assert nora.status == Invitation.Status.ACCEPTED
    assert nora.accepted_user == user
    assert Invitation.objects.filter(status=Invitation.Status.PENDING).count() == 2
    assert mail.outbox == []


def test_codes_take_the_groups_option_when_the_cell_is_empty(admin_client, neighbours, garden):
    rows = [["first_name", "groups"], ["Omar", ""], ["Pia", NEIGHBOURS]]
    _generate_codes(admin_client, "csv", rows, groups=[neighbours.pk])
    assert sorted(Invitation.objects.values_list("first_name", "groups__name")) == [
        ("Omar", NEIGHBOURS),
        ("Pia", NEIGHBOURS),
    ]
    assert Invitation.objects.filter(email__isnull=True).count() == 2


@pytest.mark.parametrize("send_cell", ["", "TRUE"], ids=["empty", "asking-for-email"])
def test_a_row_with_an_address_in_a_codes_file_gets_no_email(admin_client, neighbours, send_cell):
    # The tab promises no mail: not even a send_invite_email cell saying TRUE sends one.
    rows = [
        [*HEADER, "send_invite_email"],
        ["", "", "", "", NEIGHBOURS, "", send_cell],
        ["quinn@x.example", "Quinn", "", "", NEIGHBOURS, "", send_cell],
    ]
    name, content = sheet_file("xlsx", rows)
    result = checked(admin_client, name, content, kind="codes")
    assert result["kind"] == "codes"
    assert result["summary"]["codes"] == 1
    assert result["summary"]["invited"] == 1
    assert result["summary"]["emails"] == 0
    confirm(admin_client, result["id"])
    assert get_import(admin_client, result["id"])["progress"]["emails_queued"] == 0
    quinn = Invitation.objects.get(email="quinn@x.example")
    assert quinn.send_email is False
    assert InvitationMessage.objects.count() == 0
    assert mail.outbox == []


def test_in_an_invitations_file_an_empty_email_cell_is_an_error(admin_client, neighbours):
    rows = [HEADER, ["", "", "", "", NEIGHBOURS]]
    result = checked(admin_client, *sheet_file("xlsx", rows))
    assert [(e["code"], e["row"]) for e in result["errors"]] == [("invalid_email", 2)]
    assert Invitation.objects.count() == 0


def test_the_codes_of_an_import_are_exported_alone_from_its_page(admin, admin_client, invite):
    """To print them or merge them into letters: only this import's codes, not every
    invitation of the platform; audited with the batch."""
    rows = [HEADER, ["", "Ann"], ["", "Bob"], ["", "Cleo"]]
    invitation_import = _generate_codes(admin_client, "csv", rows)
    invite("someone.else@x.example")
    page = admin_client.get(reverse("web:import", kwargs={"pk": invitation_import.pk}))
    html = page.content.decode()
    link = f"{reverse('web:export')}?format=csv&amp;batch={invitation_import.batch_id}"
    assert f'href="{link}"' in html
    assert "Export these codes (.csv)" in html

    response = admin_client.get(link.replace("&amp;", "&"))
    rows = read_csv(b"".join(response.streaming_content))
    codes = Invitation.objects.filter(batch_id=invitation_import.batch_id)
    assert sorted(r[0] for r in rows[1:]) == sorted(c.token_display for c in codes)
    assert len(rows) == 1 + 3
    event = AuditEvent.objects.get(verb="invitation.exported")
    assert (event.actor, event.details["batch"], event.details["count"]) == (
        admin,
        invitation_import.batch_id,
        3,
    )

    # The API reports the batch of an import and exports it the same way.
    out = get_import(admin_client, invitation_import.pk)
    assert out["batch"] == invitation_import.batch_id
    api = admin_client.get(f"{API}/export", {"format": "csv", "batch": out["batch"]})
    assert len(read_csv(b"".join(api.streaming_content))) == 1 + 3


@pytest.mark.parametrize("batch", ["12a", "²", " 3"])
def test_an_export_with_a_batch_that_is_no_number_exports_nothing(admin_client, invite, batch):
    """Never read as "no batch": that would hand out every invitation and its token."""
    invite("ann@x.example")
    response = admin_client.get(
        reverse("web:export"), {"format": "csv", "batch": batch}, follow=True
    )
    assert response.status_code == 200
    assert "batch is a number." in response.content.decode()
    assert not AuditEvent.objects.filter(verb="invitation.exported").exists()
