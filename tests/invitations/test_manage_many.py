"""Resending and deleting many invitations: by ids and by the list's filter, with the
same outcome as one at a time, in chunks, audited, through the outbox, and safe while
other changes happen."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portico.accounts.models import User
from portico.core.errors import ApplicationError
from portico.core.models import AuditEvent
from portico.groups.models import Group, Membership
from portico.invitations.models import Invitation, InvitationMessage
from portico.invitations.selectors import InvitationFilter
from portico.invitations.services import manage_many
from portico.invitations.services.accept import invitation_accept
from portico.invitations.services.create import (
    InviteOptions,
    InviteRow,
    invitation_create_batch,
    parse_typed_emails,
)
from portico.invitations.services.manage import invitation_delete, invitation_resend
from portico.invitations.services.manage_many import (
    invitations_delete,
    invitations_delete_matching,
    invitations_resend,
    invitations_resend_matching,
)
from tests.concurrency import at_once
from tests.conftest import PASSWORD, make_user
from tests.invitations.bulk import make_invitations

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.UTC)
DAY = timedelta(days=1)
KINDS = ("pending", "expired", "swept", "accepted", "code", "quiet", "registered", "waiting")


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def _batch(admin, rows, **options) -> list[int]:
    return invitation_create_batch(
        actor=admin, rows=rows, options=InviteOptions(**options), where="row", allow_codes=True
    ).invitation_ids


def make_world(admin, tag: str, group: Group, on_commit) -> dict[str, int]:
    """One invitation of each kind a bulk operation meets, their addresses (or, for the
    code, the first name) carrying ``tag``; every email but the "waiting" one already
    delivered. Returns the ids by kind."""
    ids: dict[str, int] = {}
    with on_commit(execute=True):
        for kind in ("pending", "expired", "swept", "accepted", "registered"):
            (ids[kind],) = _batch(
                admin, parse_typed_emails(f"{kind}.{tag}@x.example"), group_ids=[group.pk]
            )
        (ids["quiet"],) = _batch(
            admin, parse_typed_emails(f"quiet.{tag}@x.example"), send_email=False
        )
        (ids["code"],) = _batch(admin, [InviteRow(position=2, email=None, first_name=tag)])
    now = timezone.now()
    Invitation.objects.filter(pk=ids["expired"]).update(expires_at=now - DAY)
    Invitation.objects.filter(pk=ids["swept"]).update(
        expires_at=now - DAY, status=Invitation.Status.EXPIRED
    )
    accepted = Invitation.objects.get(pk=ids["accepted"])
    invitation_accept(token=accepted.token, first_name="A", last_name="B", password=PASSWORD)
    make_user(f"REGISTERED.{tag}@x.example")
    return ids


def world_state(ids: dict[str, int], tag: str) -> dict[str, Any]:
    """Everything a resend or delete may change, by kind, with the tag and the ids taken
    out so that two worlds compare equal when they were treated alike."""
    kind_of = {str(pk): kind for kind, pk in ids.items()}

    def untagged(value: Any) -> Any:
        return value.replace(tag, "TAG") if isinstance(value, str) else value

    state: dict[str, Any] = {}
    for kind, pk in ids.items():
        invitation = Invitation.objects.filter(pk=pk).first()
        state[kind] = {
            "invitation": None
            if invitation is None
            else {
                field: getattr(invitation, field)
                for field in (
                    "status",
                    "sent_at",
                    "expires_at",
                    "reminder_sent_at",
                    "delivery_failed_at",
                    "send_email",
                )
            }
            | {"groups": sorted(invitation.groups.values_list("name", flat=True))},
            "outbox": list(
                InvitationMessage.objects.filter(invitation_id=pk)
                .order_by("id")
                .values_list("kind", "sent_at", "failed_at", "last_error")
            ),
        }
    state["audit"] = sorted(
        (
            event.verb,
            kind_of[event.target_id],
            event.actor_id,
            {key: untagged(value) for key, value in event.details.items()},
        )
        for event in AuditEvent.objects.filter(
            verb__in=["invitation.resent", "invitation.deleted"], target_id__in=kind_of
        )
    )
    state["users"] = sorted(
        (
            untagged(u.email.lower()),
            u.is_active,
            sorted(u.memberships.values_list("group__name", flat=True)),
        )
        for u in User.objects.filter(email__icontains=tag)
    )
    return state


def _one_by_one(operation, *, actor, ids) -> dict[int, str | None]:
    outcomes: dict[int, str | None] = {}
    for pk in ids:
        try:
            operation(actor=actor, invitation_id=pk)
        except ApplicationError as error:
            outcomes[pk] = error.code
        else:
            outcomes[pk] = None
    return outcomes


def _codes(results: list[dict]) -> dict[int, str | None]:
    return {r["id"]: r.get("code") for r in results}


@pytest.fixture
def worlds(clock, admin, neighbours, django_capture_on_commit_callbacks):
    """Three identical worlds; the clock then moves ten days on."""
    built = {
        tag: make_world(admin, tag, neighbours, django_capture_on_commit_callbacks)
        for tag in ("alpha", "bravo", "charlie")
    }
    for tag, ids in built.items():
        # Its email still waits in the outbox (the commit that would deliver it never
        # comes); made last, so that delivering another world's emails does not send it.
        (ids["waiting"],) = _batch(admin, parse_typed_emails(f"waiting.{tag}@x.example"))
    clock.shift(10 * DAY)
    return built


# The same outcome, one at a time, by ids and by filter.


def test_resending_by_filter_by_ids_and_one_by_one_gives_the_same_result(admin, worlds):
    summary = invitations_resend_matching(
        actor=admin, invitation_filter=InvitationFilter(search="alpha")
    )
    by_ids = _codes(invitations_resend(actor=admin, ids=worlds["bravo"].values()))
    one_by_one = _one_by_one(invitation_resend, actor=admin, ids=worlds["charlie"].values())

    expected = {"accepted": "invitation_already_accepted", "registered": "email_registered"}
    for tag, outcomes in (("bravo", by_ids), ("charlie", one_by_one)):
        assert {kind: outcomes[pk] for kind, pk in worlds[tag].items()} == {
            kind: expected.get(kind) for kind in KINDS
        }
    assert (summary.succeeded, dict(summary.failed)) == (
        6,
        {"invitation_already_accepted": 1, "email_registered": 1},
    )
    assert summary.emails == 5  # the code is renewed without email
    alpha = world_state(worlds["alpha"], "alpha")
    assert alpha == world_state(worlds["bravo"], "bravo")
    assert alpha == world_state(worlds["charlie"], "charlie")


def test_what_a_resend_does_to_each_kind(admin, worlds):
    ids = worlds["alpha"]
    invitations_resend_matching(actor=admin, invitation_filter=InvitationFilter(search="alpha"))
    now = timezone.now()
    state = world_state(ids, "alpha")
    for kind in ("pending", "expired", "swept", "code", "quiet", "waiting"):
        invitation = state[kind]["invitation"]
        assert invitation["status"] == Invitation.Status.PENDING, kind
        assert (invitation["sent_at"], invitation["expires_at"]) == (now, now + 30 * DAY), kind
        assert invitation["reminder_sent_at"] is None
    # One new invitation email each, queued; the code gets none.
    for kind in ("pending", "expired", "swept", "quiet", "waiting"):
        assert state[kind]["outbox"][-1] == ("invitation", None, None, ""), kind
        assert sum(1 for row in state[kind]["outbox"] if row[1] is row[2] is None) == 1, kind
    assert state["code"]["outbox"] == []
    # Created without email: resending is an explicit request for one.
    assert state["quiet"]["invitation"]["send_email"] is True
    # The email that was still waiting is replaced, not sent as well.
    assert state["waiting"]["outbox"][0][2] == now
    assert state["waiting"]["outbox"][0][3].startswith("superseded")
    # Left alone.
    assert state["accepted"]["invitation"]["status"] == Invitation.Status.ACCEPTED
    assert state["registered"]["invitation"]["sent_at"] == T0
    assert len(state["accepted"]["outbox"]) == len(state["registered"]["outbox"]) == 1


def test_deleting_by_filter_by_ids_and_one_by_one_gives_the_same_result(admin, worlds):
    summary = invitations_delete_matching(
        actor=admin, invitation_filter=InvitationFilter(search="alpha")
    )
    by_ids = invitations_delete(actor=admin, ids=[*worlds["bravo"].values(), 987654])
    one_by_one = _one_by_one(invitation_delete, actor=admin, ids=worlds["charlie"].values())

    assert (summary.succeeded, summary.failed_count) == (len(KINDS), 0)
    assert _codes(by_ids) == {**dict.fromkeys(worlds["bravo"].values()), 987654: "not_found"}
    assert set(one_by_one.values()) == {None}
    alpha = world_state(worlds["alpha"], "alpha")
    assert alpha == world_state(worlds["bravo"], "bravo")
    assert alpha == world_state(worlds["charlie"], "charlie")


def test_what_a_delete_does_to_each_kind(admin, worlds, neighbours, create_batch):
    ids = worlds["alpha"]
    invitations_delete_matching(actor=admin, invitation_filter=InvitationFilter(search="alpha"))
    state = world_state(ids, "alpha")
    assert all(state[kind] == {"invitation": None, "outbox": []} for kind in KINDS)
    # The groups the pending invitations promised are withdrawn...
    assert not neighbours.invitations.filter(pk__in=ids.values()).exists()
    # ...the accepted one's account keeps its group...
    user = User.objects.get(email="accepted.alpha@x.example")
    assert user.is_active
    assert Membership.objects.filter(user=user, group=neighbours).exists()
    # ...and each audit entry says what was deleted.
    deleted = {e[1]: e[3] for e in state["audit"] if e[0] == "invitation.deleted"}
    assert deleted["pending"] == {"status": "pending", "email": "pending.TAG@x.example"}
    assert deleted["swept"]["status"] == deleted["expired"]["status"] == "expired"
    assert deleted["accepted"]["status"] == "accepted"
    assert deleted["code"] == {"status": "pending", "email": ""}
    # The addresses are free to be invited again.
    assert create_batch("pending.alpha@x.example, expired.alpha@x.example").counts["invited"] == 2


# The filter: exactly what the list shows.


def test_the_filter_means_what_the_list_shows(clock, admin):
    pending = make_invitations(3, prefix="pending", inviter=admin)
    expired = make_invitations(2, prefix="expired", inviter=admin, expires_at=T0 - DAY)
    accepted = make_invitations(2, prefix="accepted", inviter=admin, status="accepted")
    undelivered = make_invitations(1, prefix="bounced", inviter=admin, delivery_failed_at=T0)

    summary = invitations_delete_matching(
        actor=admin, invitation_filter=InvitationFilter(status="expired")
    )
    assert summary.succeeded == 2
    assert not Invitation.objects.filter(pk__in=[i.pk for i in expired]).exists()
    summary = invitations_resend_matching(
        actor=admin, invitation_filter=InvitationFilter(search="bounced", status="undelivered")
    )
    assert summary.succeeded == 1
    assert InvitationMessage.objects.get().invitation_id == undelivered[0].pk
    summary = invitations_resend_matching(
        actor=admin, invitation_filter=InvitationFilter(status="accepted")
    )
    assert (summary.succeeded, dict(summary.failed)) == (0, {"invitation_already_accepted": 2})
    assert summary.failures() == [
        {
            "code": "invitation_already_accepted",
            "count": 2,
            "message": "2 invitations were not sent again: they have already been accepted.",
        }
    ]
    summary = invitations_delete_matching(
        actor=admin, invitation_filter=InvitationFilter(search="PENDING00001 ")
    )
    assert summary.succeeded == 1
    assert Invitation.objects.count() == len(pending) - 1 + len(accepted) + len(undelivered)


def test_an_empty_filter_needs_everything_said(admin):
    invitations = make_invitations(3, inviter=admin)
    for empty in (InvitationFilter(), InvitationFilter(search="   ")):
        for operation in (invitations_resend_matching, invitations_delete_matching):
            with pytest.raises(ApplicationError) as caught:
                operation(actor=admin, invitation_filter=empty)
            assert (caught.value.code, caught.value.status) == ("empty_filter", 422)
    assert Invitation.objects.count() == 3
    assert not AuditEvent.objects.filter(verb__startswith="invitation.bulk").exists()

    summary = invitations_delete_matching(
        actor=admin, invitation_filter=InvitationFilter(everything=True)
    )
    assert summary.succeeded == len(invitations)
    assert not Invitation.objects.exists()


def test_an_unknown_status_is_refused_rather_than_read_as_every_status(admin):
    make_invitations(2, inviter=admin)
    with pytest.raises(ApplicationError) as caught:
        invitations_delete_matching(
            actor=admin, invitation_filter=InvitationFilter(status="expird", everything=True)
        )
    assert (caught.value.code, caught.value.details["value"]) == ("unknown_status", "expird")
    assert Invitation.objects.count() == 2


# Audit and outbox.


def test_every_invitation_is_audited_and_the_operation_once_with_its_filter(admin):
    invitations = make_invitations(4, prefix="expiring", inviter=admin, expires_at=timezone.now())
    make_invitations(2, prefix="other", inviter=admin)
    invitation_filter = InvitationFilter(search="expiring", status="expired")

    summary = invitations_resend_matching(actor=admin, invitation_filter=invitation_filter)

    resent = AuditEvent.objects.filter(verb="invitation.resent").order_by("target_id")
    assert [e.target_id for e in resent] == [str(i.pk) for i in invitations]
    assert {(e.actor, e.target_repr[:8]) for e in resent} == {(admin, "expiring")}
    event = AuditEvent.objects.get(verb="invitation.bulk_resent")
    assert (event.actor, event.target_id) == (admin, "")
    assert event.details == {
        "search": "expiring",
        "status": "expired",
        "all": False,
        "up_to_id": invitations[-1].pk,
        "succeeded": 4,
        "failed": {},
        "emails": 4,
    }
    assert summary.up_to_id == invitations[-1].pk

    invitations_delete_matching(actor=admin, invitation_filter=invitation_filter)
    event = AuditEvent.objects.get(verb="invitation.bulk_deleted")
    assert (event.details["succeeded"], event.details["status"]) == (0, "expired")


def test_emails_leave_through_the_outbox_after_each_commit(
    admin, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(manage_many, "CHUNK", 2)
    invitations = make_invitations(5, inviter=admin, expires_at=timezone.now())
    with django_capture_on_commit_callbacks() as callbacks:
        invitations_resend_matching(
            actor=admin, invitation_filter=InvitationFilter(status="expired")
        )
        # Queued in the outbox, nothing sent before the commit.
        assert InvitationMessage.objects.filter(sent_at__isnull=True).count() == 5
        assert mail.outbox == []
    assert len(callbacks) == 3  # one delivery request per chunk
    for callback in callbacks:
        callback()
    assert sorted(m.to[0] for m in mail.outbox) == sorted(i.email for i in invitations)


# Chunks.


@pytest.mark.parametrize("operation", [invitations_resend_matching, invitations_delete_matching])
def test_a_chunk_costs_the_same_queries_whatever_its_size(admin, monkeypatch, operation):
    monkeypatch.setattr(manage_many, "CHUNK", 100)

    def queries(count: int) -> int:
        make_invitations(count, inviter=admin, expires_at=timezone.now())
        with CaptureQueriesContext(connection) as captured:
            summary = operation(actor=admin, invitation_filter=InvitationFilter(status="expired"))
        assert summary.succeeded == count
        Invitation.objects.all().delete()
        return len(captured)

    assert queries(3) == queries(100)


def test_a_large_selection_by_ids_is_done_in_chunks(admin, monkeypatch):
    monkeypatch.setattr(manage_many, "CHUNK", 7)
    invitations = make_invitations(30, inviter=admin)
    ids = [i.pk for i in reversed(invitations)]
    outcomes = invitations_resend(actor=admin, ids=[*ids, 0, -3, 2**70])
    assert [o["id"] for o in outcomes] == [*ids, 0, -3, 2**70]
    assert all(o["ok"] for o in outcomes[:30])
    assert {o["code"] for o in outcomes[30:]} == {"not_found"}
    assert InvitationMessage.objects.count() == 30


# While other things happen.


def test_changes_made_between_chunks_are_seen_and_nothing_is_done_twice(clock, admin, monkeypatch):
    """Between two chunks, other admins resend, accept, delete and create invitations
    the filter matches: the one resent meanwhile is not sent a second time, the accepted
    one is reported as such, the deleted one is gone, the new ones are left alone, and
    every other invitation is resent exactly once."""
    monkeypatch.setattr(manage_many, "CHUNK", 4)
    invitations = make_invitations(12, inviter=admin)
    resent_by_hand, accepted, deleted = invitations[8:11]
    created: list[Invitation] = []
    acted: list[bool] = []
    real_resend = manage_many._resend

    def resend_then_others_act(**kwargs):
        done = real_resend(**kwargs)
        if not acted:
            acted.append(True)
            clock.shift(timedelta(seconds=1))
            invitation_resend(actor=admin, invitation_id=resent_by_hand.pk)
            invitation_accept(
                token=accepted.token, first_name="A", last_name="B", password=PASSWORD
            )
            invitation_delete(actor=admin, invitation_id=deleted.pk)
            created.extend(make_invitations(2, domain="new.example", inviter=admin))
        return done

    monkeypatch.setattr(manage_many, "_resend", resend_then_others_act)
    summary = invitations_resend_matching(
        actor=admin, invitation_filter=InvitationFilter(search="person")
    )

    assert (summary.succeeded, dict(summary.failed)) == (9, {"invitation_already_accepted": 1})
    emailed = InvitationMessage.objects.values_list("invitation_id", flat=True)
    expected = [i.pk for i in invitations if i not in (accepted, deleted)]
    assert sorted(emailed) == expected  # one each; the one resent by hand once
    audited = AuditEvent.objects.filter(verb="invitation.resent")
    assert sorted(int(pk) for pk in audited.values_list("target_id", flat=True)) == expected
    assert not InvitationMessage.objects.filter(invitation__in=created).exists()


@pytest.mark.django_db(transaction=True)
def test_two_admins_resending_the_expired_ones_at_once_send_each_once(monkeypatch):
    monkeypatch.setattr(manage_many, "CHUNK", 4)  # many chunks, interleaved
    admins = [make_user(f"admin{i}@city.example", is_admin=True) for i in range(2)]
    invitations = make_invitations(30, inviter=admins[0], expires_at=timezone.now())
    expired = InvitationFilter(status="expired")

    outcomes = at_once(
        *(partial(invitations_resend_matching, actor=a, invitation_filter=expired) for a in admins)
    )

    assert sum(o.succeeded for o in outcomes) == 30, outcomes
    counts = InvitationMessage.objects.values_list("invitation_id", flat=True)
    assert sorted(counts) == sorted(i.pk for i in invitations)
    assert AuditEvent.objects.filter(verb="invitation.resent").count() == 30
    assert AuditEvent.objects.filter(verb="invitation.bulk_resent").count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_delete_and_a_resend_at_once_never_both_touch_an_invitation(monkeypatch):
    monkeypatch.setattr(manage_many, "CHUNK", 4)
    admins = [make_user(f"admin{i}@city.example", is_admin=True) for i in range(2)]
    make_invitations(40, inviter=admins[0], expires_at=timezone.now())
    expired = InvitationFilter(status="expired")

    resent, deleted = at_once(
        partial(invitations_resend_matching, actor=admins[0], invitation_filter=expired),
        partial(invitations_delete_matching, actor=admins[1], invitation_filter=expired),
    )

    assert resent.succeeded + deleted.succeeded == 40, (resent, deleted)
    assert Invitation.objects.count() == resent.succeeded
    assert InvitationMessage.objects.count() == resent.succeeded
    done = AuditEvent.objects.filter(verb__in=["invitation.resent", "invitation.deleted"])
    assert done.count() == 40
    assert done.values("target_id").distinct().count() == 40


def test_invitations_created_after_the_confirmation_are_left_alone(admin):
    shown = make_invitations(3, prefix="shown", inviter=admin)
    newer = make_invitations(2, prefix="newer", inviter=admin)
    summary = invitations_delete_matching(
        actor=admin,
        invitation_filter=InvitationFilter(status="pending"),
        up_to_id=shown[-1].pk,
    )
    assert (summary.succeeded, summary.up_to_id) == (3, shown[-1].pk)
    assert list(Invitation.objects.order_by("pk")) == newer


# Deleting touches every row that points at an invitation.


def test_every_relation_of_an_invitation_is_deleted_with_it():
    """``_delete`` removes the rows of these relations itself; a new relation to
    invitations must be added there (and here)."""
    relations = {
        (f.related_model if f.one_to_many else f.remote_field.through)
        for f in Invitation._meta.get_fields()
        if f.one_to_many or f.many_to_many
    }
    assert relations == {
        InvitationMessage,
        Invitation.groups.through,
        Invitation.moderated_projects.through,
    }
