"""The checked plan an import keeps between its preview and its storing: storing takes it
as checked when nothing it depended on changed, and plans again from the file when
something did (someone invited, registered, accepted or deleted meanwhile)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from portico.accounts.models import User
from portico.groups.models import Group, Membership
from portico.invitations.models import Invitation, InvitationImport
from portico.invitations.services.create import StalePlan, apply_plan
from portico.invitations.services.import_plan import replan_checked
from portico.invitations.services.manage import invitation_change_email
from portico.invitations.services.planning import (
    InviteOptions,
    invitation_plan_batch,
    parse_typed_emails,
)
from tests.invitations.sheet_files import HEADER, checked, confirm, get_import, xlsx_bytes

pytestmark = pytest.mark.django_db
NEIGHBOURS = "North Avenue Residents"

ROWS = [
    [*HEADER, "send_invite_email", "message"],
    ["ann@x.example", "Ann", "Arbour", "fr-BE", NEIGHBOURS, "TRUE", "", "Bienvenue"],
    ["bob@x.example", "Bob", "Birch", "", "", "", "FALSE", ""],
    ["cy@x.example", "Cy", "Cedar", "", "", "", "", ""],
]


def _check(client, groups) -> dict:
    preview = checked(
        client, "people.xlsx", xlsx_bytes(ROWS), group_ids=[g.pk for g in groups], message="Hello"
    )
    assert preview["progress"]["status"] == "ready", preview["errors"]
    return preview


def _store(client, preview) -> dict:
    assert confirm(client, preview["id"]).status_code == 202
    return get_import(client, preview["id"])


def _forget_the_file(import_id: int) -> None:
    """Storing must not need the file: take it away."""
    invitation_import = InvitationImport.objects.get(pk=import_id)
    invitation_import.file.delete(save=False)


@pytest.fixture
def garden_club(db) -> Group:
    return Group.objects.create(name="Garden Club")


def test_storing_uses_the_checked_plan_without_reading_the_file_again(
    admin_client, neighbours, garden_club
):
    preview = _check(admin_client, [garden_club])
    _forget_the_file(preview["id"])

    done = _store(admin_client, preview)

    assert done["progress"]["status"] == "done", done["errors"]
    by_email = {i.email: i for i in Invitation.objects.prefetch_related("groups")}
    ann, bob, cy = by_email["ann@x.example"], by_email["bob@x.example"], by_email["cy@x.example"]
    assert (ann.first_name, ann.last_name, ann.language, ann.is_admin) == (
        "Ann",
        "Arbour",
        "fr-BE",
        True,
    )
    assert [g.name for g in ann.groups.all()] == [NEIGHBOURS]
    assert "Bienvenue" in ann.message
    assert [g.name for g in bob.groups.all()] == ["Garden Club"]  # the batch's
    assert (bob.send_email, bob.is_admin, bob.language) == (False, False, "en")
    assert "Hello" in bob.message
    assert "Hello" in cy.message
    assert cy.send_email is True


def test_an_address_invited_between_check_and_store_is_merged_not_duplicated(
    admin_client, neighbours, garden_club, invite
):
    preview = _check(admin_client, [garden_club])
    earlier = invite("BOB@x.example")

    done = _store(admin_client, preview)

    assert done["progress"]["status"] == "done", done["errors"]
    assert Invitation.objects.count() == 3
    earlier.refresh_from_db()
    assert [g.name for g in earlier.groups.all()] == ["Garden Club"]
    assert done["progress"]["stored"] == 3


def test_a_person_who_registered_meanwhile_gets_the_groups_instead_of_an_invitation(
    admin_client, neighbours, garden_club
):
    preview = _check(admin_client, [garden_club])
    cy = User.objects.create_user(
        "cy@x.example", "a long password 1", email_verified_at=timezone.now()
    )

    done = _store(admin_client, preview)

    assert done["progress"]["status"] == "done", done["errors"]
    assert not Invitation.objects.filter(email="cy@x.example").exists()
    assert Membership.objects.filter(user=cy, group=garden_club).exists()


def test_a_pending_invitation_that_expired_before_the_store_is_renewed(
    admin_client, neighbours, garden_club, invite
):
    with time_machine.travel(timezone.now() - timedelta(days=29, hours=23)):
        earlier = invite("cy@x.example")
    preview = _check(admin_client, [garden_club])
    assert [r["action"] for r in preview["preview"]][2] == "merge"

    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        done = _store(admin_client, preview)

    assert done["progress"]["status"] == "done", done["errors"]
    earlier.refresh_from_db()
    assert earlier.expires_at > timezone.now() + timedelta(days=29)


def test_when_the_data_changed_and_the_file_is_gone_nothing_is_stored(
    admin_client, neighbours, garden_club, invite
):
    preview = _check(admin_client, [garden_club])
    _forget_the_file(preview["id"])
    invite("ann@x.example")

    done = _store(admin_client, preview)

    assert done["progress"]["status"] == "invalid"
    assert [e["code"] for e in done["errors"]] == ["unparseable_file"]
    assert list(Invitation.objects.values_list("email", flat=True)) == ["ann@x.example"]


# --- replan_checked, change by change ---------------------------------------------------


def _checked_rows(admin_client, garden_club) -> tuple[list, InviteOptions]:
    preview = _check(admin_client, [garden_club])
    invitation_import = InvitationImport.objects.get(pk=preview["id"])
    return invitation_import.plan, InviteOptions(**invitation_import.options)


def _outline(plan) -> list[tuple]:
    return [
        (
            p.row.position,
            p.action,
            p.email,
            p.language,
            p.is_admin,
            sorted(g.name for g in p.groups),
            p.send_email,
            p.message,
        )
        for p in plan.rows
    ]


def test_unchanged_data_gives_back_the_plan_of_the_check(admin_client, neighbours, garden_club):
    rows, options = _checked_rows(admin_client, garden_club)
    plan = replan_checked(rows, options, now=timezone.now())
    assert _outline(plan) == [
        (2, "invite", "ann@x.example", "fr-BE", True, [NEIGHBOURS], True, "Bienvenue"),
        (3, "invite", "bob@x.example", "en", False, ["Garden Club"], False, "Hello"),
        (4, "invite", "cy@x.example", "en", False, ["Garden Club"], True, "Hello"),
    ]


@pytest.mark.parametrize(
    "change",
    [
        "group deleted",
        "batch group deleted",
        "invited meanwhile",
        "registered meanwhile",
        "unverified account meanwhile",
    ],
)
def test_any_change_it_depended_on_sends_storing_back_to_the_file(
    admin_client, neighbours, garden_club, invite, change
):
    rows, options = _checked_rows(admin_client, garden_club)
    if change == "group deleted":
        neighbours.delete()
    elif change == "batch group deleted":
        garden_club.delete()
    elif change == "invited meanwhile":
        invite("cy@x.example")
    elif change == "registered meanwhile":
        User.objects.create_user(
            "bob@x.example", "a long password 1", email_verified_at=timezone.now()
        )
    else:
        User.objects.create_user("bob@x.example", "a long password 1")
    assert replan_checked(rows, options, now=timezone.now()) is None


def test_rows_already_stored_are_not_verified_again(admin_client, neighbours, garden_club, invite):
    rows, options = _checked_rows(admin_client, garden_club)
    invite("ann@x.example")  # as if the first row had been stored by an earlier run
    assert replan_checked(rows, options, now=timezone.now()) is None
    plan = replan_checked(rows, options, now=timezone.now(), start=1)
    assert [p.action for p in plan.rows] == ["invite", "invite", "invite"]


# --- Found in review: case, repeated groups, an address changed while storing ---------


def test_an_address_in_capitals_invited_meanwhile_is_merged(admin_client, neighbours, invite):
    rows = [HEADER, ["Dee@X.example", "Dee", "", "", "", ""]]
    preview = checked(admin_client, "people.xlsx", xlsx_bytes(rows))
    earlier = invite("dee@x.example")

    done = _store(admin_client, preview)

    assert done["progress"]["status"] == "done", done["errors"]
    assert list(Invitation.objects.values_list("pk", flat=True)) == [earlier.pk]


def test_a_merge_of_an_address_in_capitals_is_taken_as_checked(admin_client, neighbours, invite):
    invite("dee@x.example")
    preview = checked(
        admin_client, "people.xlsx", xlsx_bytes([HEADER, ["Dee@X.example", "", "", "", "", ""]])
    )
    invitation_import = InvitationImport.objects.get(pk=preview["id"])

    plan = replan_checked(
        invitation_import.plan, InviteOptions(**invitation_import.options), now=timezone.now()
    )

    assert [p.action for p in plan.rows] == ["merge"]


def test_a_group_named_twice_is_joined_once(admin_client, neighbours, garden_club):
    rows = [HEADER, ["eve@x.example", "", "", "", f"{NEIGHBOURS}, north avenue residents", ""]]
    preview = checked(
        admin_client,
        "people.xlsx",
        xlsx_bytes([*rows, ["fay@x.example", "", "", "", "", ""]]),
        group_ids=[garden_club.pk, garden_club.pk],
    )

    done = _store(admin_client, preview)

    assert done["progress"]["status"] == "done", done["errors"]
    links = Invitation.groups.through.objects.values_list("invitation__email", "group__name")
    assert sorted(links) == [("eve@x.example", NEIGHBOURS), ("fay@x.example", "Garden Club")]


def test_an_address_changed_after_the_preview_gets_its_own_invitation(
    admin, admin_client, neighbours, invite
):
    earlier = invite("gus@x.example")
    preview = checked(
        admin_client, "people.xlsx", xlsx_bytes([HEADER, ["gus@x.example", "", "", "", "", "TRUE"]])
    )
    assert [r["action"] for r in preview["preview"]] == ["merge"]
    invitation_change_email(actor=admin, invitation_id=earlier.pk, email="gus@y.example")

    done = _store(admin_client, preview)

    assert done["progress"]["status"] == "done", done["errors"]
    earlier.refresh_from_db()
    assert (earlier.email, earlier.is_admin) == ("gus@y.example", False)
    assert Invitation.objects.get(email="gus@x.example").is_admin is True


def test_a_plan_that_would_merge_into_an_invitation_whose_address_changed_is_stale(admin, invite):
    earlier = invite("gus@x.example")
    plan = invitation_plan_batch(
        rows=parse_typed_emails("gus@x.example"), options=InviteOptions(is_admin=True)
    )
    invitation_change_email(actor=admin, invitation_id=earlier.pk, email="gus@y.example")

    with pytest.raises(StalePlan), transaction.atomic():
        apply_plan(actor=admin, plan=plan, batch=None, now=timezone.now())

    earlier.refresh_from_db()
    assert earlier.is_admin is False
