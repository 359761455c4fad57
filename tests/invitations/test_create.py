"""Creating invitations in batches: every problem reported at once, all or nothing, and
the special rows (registered users, pending and expired invitations) handled."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.test import override_settings
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from portico.core.errors import ApplicationError
from portico.core.models import AuditEvent
from portico.groups.models import Membership
from portico.invitations.models import Invitation, InvitationBatch, InvitationMessage
from portico.invitations.services.create import (
    InviteOptions,
    InviteRow,
    invitation_create_batch,
    invitation_plan_batch,
    parse_typed_emails,
)
from portico.invitations.services.jobs import invitations_expire
from tests.conftest import make_user
from tests.invitations.conftest import audit_verbs, mail_to


def batch_errors(admin, emails, **options) -> list[dict]:
    """The problems of a batch that must be refused, after checking nothing was stored."""
    before = (Invitation.objects.count(), InvitationMessage.objects.count())
    with pytest.raises(ApplicationError) as caught:
        invitation_create_batch(
            actor=admin, rows=parse_typed_emails(emails), options=InviteOptions(**options)
        )
    assert caught.value.status == 422
    assert (Invitation.objects.count(), InvitationMessage.objects.count()) == before
    return [{k: v for k, v in e.items() if k != "message"} for e in caught.value.errors]


# Validation: each code, with its position and value.


@pytest.mark.parametrize(
    "bad",
    [
        "jane doe@x.example",
        "http://x.example",
        "https://x.example/jane@x.example",
        "jane@",
        "jane",
        "@x.example",
        "jane@@x.example",
        "Jane <not an address>",
    ],
)
def test_an_invalid_address_is_reported_with_its_position_and_value(admin, bad):
    errors = batch_errors(admin, ["ok@x.example", bad, "fine@x.example"])
    assert errors == [{"code": "invalid_email", "position": 2, "value": bad}]


def test_every_invalid_address_is_reported_at_once(admin):
    errors = batch_errors(
        admin, "jane doe@x.example, ok@x.example; http://x.example\njane@, also-ok@x.example"
    )
    assert errors == [
        {"code": "invalid_email", "position": 1, "value": "jane doe@x.example"},
        {"code": "invalid_email", "position": 3, "value": "http://x.example"},
        {"code": "invalid_email", "position": 4, "value": "jane@"},
    ]


def test_invalid_email_messages_name_the_value(admin):
    with pytest.raises(ApplicationError) as caught:
        invitation_create_batch(
            actor=admin, rows=parse_typed_emails("http://x.example"), options=InviteOptions()
        )
    assert "http://x.example" in caught.value.errors[0]["message"]


def test_duplicates_are_found_whatever_their_case_and_list_every_position(admin):
    errors = batch_errors(
        admin, "Jane@X.example, bob@x.example, jane@x.example, JANE@x.EXAMPLE, bob@x.example"
    )
    assert errors == [
        {"code": "emails_duplicate", "value": "jane@x.example", "positions": [1, 3, 4]},
        {"code": "emails_duplicate", "value": "bob@x.example", "positions": [2, 5]},
    ]


@pytest.mark.parametrize("emails", ["", "  ", " , ;\n\n ;", []])
def test_an_empty_batch_is_refused_as_no_invites_specified(admin, emails):
    assert batch_errors(admin, emails) == [{"code": "no_invites_specified"}]


@override_settings(PORTICO_MAX_INVITES=3)
def test_a_batch_over_the_configured_limit_is_refused(admin):
    errors = batch_errors(admin, "a@x.example, b@x.example, c@x.example, d@x.example")
    assert errors == [{"code": "max_invites_limit_exceeded", "limit": 3, "count": 4}]


@override_settings(PORTICO_MAX_INVITES=3)
def test_a_batch_at_the_configured_limit_is_accepted(create_batch):
    result = create_batch("a@x.example, b@x.example, c@x.example")
    assert result.counts["invited"] == 3


def test_an_unknown_group_is_refused_with_its_id(admin, neighbours):
    errors = batch_errors(admin, "a@x.example", group_ids=[neighbours.pk, 987654])
    assert errors == [{"code": "unknown_group", "field": "groups", "value": 987654}]


def test_an_unknown_group_name_in_a_row_is_refused_with_its_row(admin, neighbours):
    rows = [
        InviteRow(position=2, email="a@x.example", groups=["north avenue residents"]),
        InviteRow(position=3, email="b@x.example", groups=["Nowhere Street"]),
    ]
    with pytest.raises(ApplicationError) as caught:
        invitation_create_batch(actor=admin, rows=rows, options=InviteOptions(), where="row")
    assert [{k: v for k, v in e.items() if k != "message"} for e in caught.value.errors] == [
        {"code": "unknown_group", "row": 3, "column": "groups", "value": "Nowhere Street"}
    ]
    assert not Invitation.objects.exists()


def test_an_unknown_language_is_refused(admin):
    errors = batch_errors(admin, "a@x.example", language="xx-YY")
    assert errors == [{"code": "unknown_locale", "field": "language", "value": "xx-YY"}]


def test_an_unknown_language_in_a_row_is_refused_with_its_row(admin):
    rows = [
        InviteRow(position=2, email="a@x.example", language="fr-BE"),
        InviteRow(position=3, email="b@x.example", language="klingon"),
    ]
    with pytest.raises(ApplicationError) as caught:
        invitation_create_batch(actor=admin, rows=rows, options=InviteOptions(), where="row")
    assert [{k: v for k, v in e.items() if k != "message"} for e in caught.value.errors] == [
        {"code": "unknown_locale", "row": 3, "column": "language", "value": "klingon"}
    ]


def test_moderator_rights_without_projects_are_refused(admin):
    errors = batch_errors(admin, "a@x.example", moderator=True)
    assert errors == [{"code": "projects_required", "field": "projects"}]


def test_every_kind_of_problem_is_reported_together(admin):
    errors = batch_errors(
        admin,
        "bad, a@x.example, A@x.example",
        language="xx",
        moderator=True,
        group_ids=[987654],
    )
    assert sorted(e["code"] for e in errors) == [
        "emails_duplicate",
        "invalid_email",
        "projects_required",
        "unknown_group",
        "unknown_locale",
    ]


# All or nothing.


def test_one_bad_row_stores_and_sends_nothing(
    admin, resident, neighbours, garden, invite, django_capture_on_commit_callbacks
):
    pending = invite("pending@x.example")
    mail.outbox.clear()
    counts = (
        Invitation.objects.count(),
        InvitationMessage.objects.count(),
        InvitationBatch.objects.count(),
        AuditEvent.objects.count(),
    )
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        errors = batch_errors(
            admin,
            [
                "new@x.example",
                resident.email,
                "pending@x.example",
                "not an address",
            ],
            is_admin=True,
            moderator=True,
            project_ids=[garden.pk],
            group_ids=[neighbours.pk],
        )
    assert [e["code"] for e in errors] == ["invalid_email"]
    assert callbacks == []
    assert mail.outbox == []
    assert counts == (
        Invitation.objects.count(),
        InvitationMessage.objects.count(),
        InvitationBatch.objects.count(),
        AuditEvent.objects.count(),
    )
    resident.refresh_from_db()
    assert not resident.is_admin
    assert not Membership.objects.filter(user=resident).exists()
    assert not garden.moderators.filter(pk=resident.pk).exists()
    pending.refresh_from_db()
    assert not pending.is_admin
    assert not pending.groups.exists()


def test_the_plan_writes_nothing(admin):
    plan = invitation_plan_batch(rows=parse_typed_emails("a@x.example"), options=InviteOptions())
    assert plan.errors == []
    assert [p.action for p in plan.rows] == ["invite"]
    assert not Invitation.objects.exists()


# Parsing typed lists.


def test_commas_semicolons_and_newlines_separate_addresses_and_spaces_are_trimmed():
    rows = parse_typed_emails(
        "a@x.example,b@x.example;c@x.example\nd@x.example\r\n  e@x.example  ,, ;\n\tf@x.example"
    )
    assert [(r.position, r.email) for r in rows] == [
        (1, "a@x.example"),
        (2, "b@x.example"),
        (3, "c@x.example"),
        (4, "d@x.example"),
        (5, "e@x.example"),
        (6, "f@x.example"),
    ]


addresses = st.lists(
    st.from_regex(r"[a-z][a-z0-9.+_-]{0,10}@[a-z]{1,8}\.example", fullmatch=True),
    min_size=1,
    max_size=8,
)
separators = st.sampled_from([",", ";", "\n", "\r\n", ", ", " ; ", ",\n", "\t,", ",,"])


@given(addresses=addresses, data=st.data())
def test_any_mix_of_separators_gives_every_address_in_order(addresses, data):
    text = ""
    for address in addresses:
        text += data.draw(st.sampled_from(["", " ", "  "])) + address + data.draw(separators)
    rows = parse_typed_emails(text)
    assert [r.email for r in rows] == addresses
    assert [r.position for r in rows] == list(range(1, len(addresses) + 1))


def test_name_and_address_are_understood():
    rows = parse_typed_emails(
        'Jane Doe <jane@x.example>; "Bob van der Berg" <bob@x.example>, Ann<ann@x.example>'
    )
    assert [(r.email, r.first_name, r.last_name) for r in rows] == [
        ("jane@x.example", "Jane", "Doe"),
        ("bob@x.example", "Bob", "van der Berg"),
        ("ann@x.example", "Ann", ""),
    ]


def test_quoted_names_with_commas_are_understood_as_outlook_writes_them():
    rows = parse_typed_emails(
        '"Doe, Jane" <jane@x.example>; "Roe, Bob" <bob@x.example>,\n"Ann Smith" <ann@x.example>'
    )
    assert [(r.position, r.email, r.first_name, r.last_name) for r in rows] == [
        (1, "jane@x.example", "Jane", "Doe"),
        (2, "bob@x.example", "Bob", "Roe"),
        (3, "ann@x.example", "Ann", "Smith"),
    ]


def test_an_unbalanced_quote_loses_nothing():
    rows = parse_typed_emails('"Jane <jane@x.example>, bob@x.example')
    assert [r.position for r in rows] == [1, 2]
    assert rows[1].email == "bob@x.example"
    assert rows[0].raw == '"Jane <jane@x.example>'


def test_a_pasted_outlook_list_is_invited(create_batch):
    result = create_batch('"Doe, Jane" <jane@x.example>; "Roe, Bob" <bob@x.example>')
    assert result.counts["invited"] == 2
    assert sorted(Invitation.objects.values_list("email", "first_name", "last_name")) == [
        ("bob@x.example", "Bob", "Roe"),
        ("jane@x.example", "Jane", "Doe"),
    ]


def test_a_list_of_addresses_is_accepted_as_such():
    rows = parse_typed_emails(["  a@x.example ", "", "Jane Doe <jane@x.example>"])
    assert [(r.position, r.email, r.first_name) for r in rows] == [
        (1, "a@x.example", ""),
        (2, "jane@x.example", "Jane"),
    ]


def test_names_from_the_typed_list_are_stored(create_batch):
    create_batch("Jane Doe <jane@x.example>")
    invitation = Invitation.objects.get()
    assert (invitation.email, invitation.first_name, invitation.last_name) == (
        "jane@x.example",
        "Jane",
        "Doe",
    )


# Options.


@pytest.mark.parametrize(
    ("typed", "stored"), [("nl-be", "nl-BE"), ("NL-BE", "nl-BE"), ("FR_be", "fr-BE"), ("EN", "en")]
)
def test_the_language_is_matched_whatever_its_case_and_stored_in_the_platforms_spelling(
    invite, typed, stored
):
    assert invite("jane@x.example", language=typed).language == stored


def test_without_a_language_the_platforms_first_is_used(invite):
    assert invite("jane@x.example").language == "en"


def test_a_new_invitation_stores_the_batch_options_and_is_sent_and_audited(
    admin, invite, neighbours, garden
):
    before = timezone.now()
    invitation = invite(
        "jane@x.example",
        is_admin=True,
        moderator=True,
        project_ids=[garden.pk],
        group_ids=[neighbours.pk],
    )
    assert invitation.status == Invitation.Status.PENDING
    assert invitation.is_admin
    assert list(invitation.groups.all()) == [neighbours]
    assert list(invitation.moderated_projects.all()) == [garden]
    assert invitation.inviter == admin
    assert invitation.expires_at - invitation.sent_at == timedelta(days=30)
    assert invitation.sent_at >= before
    assert len(mail_to("jane@x.example")) == 1
    assert audit_verbs(invitation) == ["invitation.created", "invitation.sent"]
    created = AuditEvent.objects.get(verb="invitation.created")
    assert created.actor == admin


def test_projects_are_ignored_unless_moderator_rights_are_chosen(invite, garden):
    invitation = invite("jane@x.example", project_ids=[garden.pk])
    assert not invitation.moderated_projects.exists()


def test_send_email_false_stores_the_invitation_without_mail(invite):
    invitation = invite("jane@x.example", send_email=False)
    assert invitation.status == Invitation.Status.PENDING
    assert not InvitationMessage.objects.exists()
    assert mail.outbox == []


def test_the_personal_message_keeps_safe_formatting_only(invite):
    invitation = invite(
        "jane@x.example",
        message=(
            '<p onclick="steal()">Hello <b>neighbour</b>, <a href="javascript:alert(1)">x</a>'
            "<script>alert('owned')</script><img src=x onerror=alert(2)></p>"
        ),
    )
    assert "<b>neighbour</b>" in invitation.message
    for unsafe in ("<script", "alert", "onclick", "onerror", "<img", "javascript:"):
        assert unsafe not in invitation.message
    (sent,) = mail_to("jane@x.example")
    html = sent.alternatives[0].content
    assert "<b>neighbour</b>" in html
    assert "<script" not in html
    assert "neighbour" in sent.body
    assert "<b>" not in sent.body


# Rows that are fine but special.


def test_a_registered_address_gets_the_rights_at_once_without_invitation_or_email(
    admin, resident, neighbours, garden, create_batch
):
    result = create_batch(
        ["RITA.Resident@mail.example"],
        is_admin=True,
        moderator=True,
        project_ids=[garden.pk],
        group_ids=[neighbours.pk],
    )
    assert result.counts["updated"] == 1
    assert result.counts["invited"] == result.counts["emails"] == 0
    assert not Invitation.objects.exists()
    assert not InvitationMessage.objects.exists()
    assert mail.outbox == []
    resident.refresh_from_db()
    assert resident.is_admin
    assert Membership.objects.filter(user=resident, group=neighbours).exists()
    assert garden.moderators.filter(pk=resident.pk).exists()
    verbs = set(AuditEvent.objects.filter(actor=admin).values_list("verb", flat=True))
    assert {
        "invitation.user_updated",
        "group.member_added",
        "user.admin_granted",
        "project.moderator_added",
    } <= verbs
    updated = AuditEvent.objects.get(verb="invitation.user_updated")
    assert updated.target_id == str(resident.pk)
    assert updated.details["groups"] == [neighbours.name]
    assert updated.details["admin"] is True
    assert updated.details["projects"] == [garden.title]


def test_a_pending_invitation_is_merged_without_a_second_email(
    admin, invite, create_batch, neighbours, garden
):
    invitation = invite("jane@x.example")
    token = invitation.token
    result = create_batch(
        ["JANE@x.example"],
        is_admin=True,
        moderator=True,
        project_ids=[garden.pk],
        group_ids=[neighbours.pk],
    )
    assert result.counts["merged"] == 1
    assert result.counts["invited"] == result.counts["emails"] == 0
    assert Invitation.objects.count() == 1
    invitation.refresh_from_db()
    assert invitation.token == token
    assert invitation.is_admin
    assert list(invitation.groups.all()) == [neighbours]
    assert list(invitation.moderated_projects.all()) == [garden]
    assert len(mail_to("jane@x.example")) == 1
    assert InvitationMessage.objects.filter(invitation=invitation).count() == 1
    assert "invitation.merged" in audit_verbs(invitation)


def test_merging_never_takes_rights_away(invite, create_batch, neighbours):
    invitation = invite("jane@x.example", is_admin=True, group_ids=[neighbours.pk])
    create_batch(["jane@x.example"], is_admin=False)
    invitation.refresh_from_db()
    assert invitation.is_admin
    assert list(invitation.groups.all()) == [neighbours]


@pytest.mark.parametrize("swept", [False, True], ids=["not swept", "marked expired"])
def test_an_expired_invitation_is_renewed_with_the_same_token_and_sent_again(
    invite, create_batch, swept
):
    invitation = invite("jane@x.example")
    token = invitation.token
    Invitation.objects.filter(pk=invitation.pk).update(reminder_sent_at=timezone.now())
    with time_machine.travel(timezone.now() + timedelta(days=31), tick=False):
        if swept:
            assert invitations_expire(now=timezone.now()) == 1
        result = create_batch(["jane@x.example"])
        now = timezone.now()
    assert result.counts["renewed"] == 1
    assert result.counts["emails"] == 1
    assert result.counts["invited"] == 0
    assert Invitation.objects.count() == 1
    invitation.refresh_from_db()
    assert invitation.token == token
    assert invitation.status == Invitation.Status.PENDING
    assert invitation.sent_at == now
    assert invitation.expires_at == now + timedelta(days=30)
    assert invitation.reminder_sent_at is None
    assert len(mail_to("jane@x.example")) == 2
    assert "invitation.renewed" in audit_verbs(invitation)


def test_renewing_replaces_an_email_of_the_old_lifetime_still_in_the_outbox(admin, create_batch):
    # The first email never left (the worker was down); the renewal sends one, not two.
    invitation_create_batch(
        actor=admin, rows=parse_typed_emails("jane@x.example"), options=InviteOptions()
    )
    assert InvitationMessage.objects.filter(sent_at__isnull=True).count() == 1
    with time_machine.travel(timezone.now() + timedelta(days=31), tick=False):
        result = create_batch(["jane@x.example"])
    assert result.counts["renewed"] == 1
    assert len(mail_to("jane@x.example")) == 1


def test_a_smart_group_target_gives_a_warning_and_nobody_is_added_by_hand(
    staff, neighbours, create_batch
):
    registered = make_user("sam@staff.example")
    result = create_batch(
        ["jane@x.example", "sam@staff.example"], group_ids=[staff.pk, neighbours.pk]
    )
    assert [(w["code"], w["positions"], w["value"]) for w in result.warnings] == [
        ("smart_group", [1, 2], "City staff"),
    ]
    assert not Membership.objects.filter(group=staff).exists()
    assert Membership.objects.filter(group=neighbours, user=registered).exists()


def test_the_preview_shows_what_happens_to_each_row(resident, invite, admin):
    invite("pending@x.example")
    expired = invite("expired@x.example")
    Invitation.objects.filter(pk=expired.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    plan = invitation_plan_batch(
        rows=parse_typed_emails(
            f"new@x.example, {resident.email}, PENDING@x.example, expired@x.example"
        ),
        options=InviteOptions(),
    )
    assert [p.action for p in plan.rows] == ["invite", "update_user", "merge", "renew"]
    assert plan.counts()["emails"] == 2
