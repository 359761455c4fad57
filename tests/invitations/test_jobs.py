"""The jobs and the management of invitations: one reminder per lifetime, expiry, the
outbox that sends each email once, resend, delete, bulk operations, the audit trail."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.test import override_settings
from django.utils import timezone

from portico.accounts.models import User
from portico.core.errors import ApplicationError
from portico.core.models import AuditEvent
from portico.groups.models import Membership
from portico.invitations.models import Invitation, InvitationMessage
from portico.invitations.services.accept import invitation_accept
from portico.invitations.services.create import (
    InviteOptions,
    invitation_create_batch,
    parse_typed_emails,
)
from portico.invitations.services.jobs import (
    invitation_messages_deliver_due,
    invitations_expire,
    invitations_send_due_reminders,
)
from portico.invitations.services.manage import invitation_delete, invitation_resend
from portico.invitations.services.manage_many import invitations_delete, invitations_resend
from tests.concurrency import at_once
from tests.conftest import PASSWORD
from tests.invitations.conftest import audit_verbs, mail_to

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.UTC)
DAY = timedelta(days=1)


@pytest.fixture
def clock():
    """Time stands still at T0 until the test moves it."""
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """Run a job (or any service) at the clock's time, committed, emails delivered."""

    def call(job, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            if job in (invitations_send_due_reminders, invitations_expire):
                kwargs.setdefault("now", timezone.now())
            return job(**kwargs)

    return call


def reminders(invitation: Invitation | None = None) -> int:
    rows = InvitationMessage.objects.filter(kind=InvitationMessage.Kind.REMINDER)
    if invitation is not None:
        rows = rows.filter(invitation=invitation)
    return rows.count()


def queue(admin, *emails: str, **options) -> list[Invitation]:
    """Invitations whose emails wait in the outbox (the commit that would deliver them
    never happens inside the test's transaction)."""
    result = invitation_create_batch(
        actor=admin, rows=parse_typed_emails(list(emails)), options=InviteOptions(**options)
    )
    return list(Invitation.objects.filter(pk__in=result.invitation_ids).order_by("email"))


def accept(invitation: Invitation) -> User:
    return invitation_accept(
        token=invitation.token, first_name="Jane", last_name="Doe", password=PASSWORD
    )


# Reminders.


def test_no_reminder_just_before_three_days(clock, invite, run):
    invitation = invite("jane@x.example")
    clock.shift(3 * DAY - timedelta(seconds=1))
    assert run(invitations_send_due_reminders) == 0
    assert reminders() == 0
    invitation.refresh_from_db()
    assert invitation.reminder_sent_at is None


def test_exactly_one_reminder_at_three_days_and_none_on_a_second_run(clock, invite, run):
    invitation = invite("jane@x.example")
    clock.shift(3 * DAY)
    assert run(invitations_send_due_reminders) == 1
    invitation.refresh_from_db()
    assert invitation.reminder_sent_at == timezone.now()
    assert reminders(invitation) == 1
    assert len(mail_to("jane@x.example")) == 2
    clock.shift(timedelta(hours=1))
    assert run(invitations_send_due_reminders) == 0
    clock.shift(10 * DAY)
    assert run(invitations_send_due_reminders) == 0
    assert reminders(invitation) == 1
    assert len(mail_to("jane@x.example")) == 2


def test_the_reminder_says_how_many_days_are_left(clock, invite, run):
    invite("jane@x.example")
    clock.shift(3 * DAY)
    run(invitations_send_due_reminders)
    invitation_email, reminder = mail_to("jane@x.example")
    assert reminder.subject == "Reminder: your invitation to Portico is waiting"
    assert "It expires in 27 days." in reminder.body
    assert "It expires in 27 days." in reminder.alternatives[0].content
    assert reminder.extra_headers["X-Portico-Message"].startswith("reminder-")
    link = next(line for line in invitation_email.body.splitlines() if "/invite/" in line)
    assert link in reminder.body


def test_the_reminder_is_in_the_invitees_language(clock, invite, run):
    invite("jan@x.example", language="nl-be")
    invite("jean@x.example", language="FR-BE")
    clock.shift(3 * DAY)
    run(invitations_send_due_reminders)
    dutch = mail_to("jan@x.example")[-1]
    assert dutch.subject == "Herinnering: uw uitnodiging voor Portico wacht op u"
    assert "Ze verloopt over 27 dagen." in dutch.body
    french = mail_to("jean@x.example")[-1]
    assert french.subject == "Rappel : votre invitation à Portico vous attend"
    assert "Elle expire dans 27 jours." in french.body
    assert "Elle expire dans 27 jours." in french.alternatives[0].content


def test_a_reminder_late_in_the_lifetime_counts_the_days_left(clock, invite, run):
    invite("jane@x.example")
    clock.shift(28 * DAY + timedelta(hours=22))  # 26 hours left: 2 days, rounded up
    run(invitations_send_due_reminders)
    assert "It expires in 2 days." in mail_to("jane@x.example")[-1].body


@pytest.mark.parametrize("after", ["accepted", "deleted", "expired"])
def test_no_reminder_once_the_invitation_is_no_longer_pending(clock, admin, invite, run, after):
    invitation = invite("jane@x.example")
    clock.shift(DAY)
    if after == "accepted":
        accept(invitation)
    elif after == "deleted":
        invitation_delete(actor=admin, invitation_id=invitation.pk)
    else:
        Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now())
    clock.shift(5 * DAY)
    assert run(invitations_send_due_reminders) == 0
    assert reminders() == 0
    assert len(mail_to("jane@x.example")) == 1


def test_no_reminder_when_the_invitation_expires_before_it_is_due(clock, invite, run):
    with override_settings(PORTICO_INVITATION_TTL="2d"):
        invite("jane@x.example")
    clock.shift(3 * DAY)
    assert run(invitations_send_due_reminders) == 0


def test_no_reminder_for_a_code_without_email(clock, make_code, run):
    make_code()
    clock.shift(4 * DAY)
    assert run(invitations_send_due_reminders) == 0
    assert reminders() == 0


def test_no_reminder_for_an_invitation_sent_without_email(clock, invite, run):
    invite("jane@x.example", send_email=False)
    clock.shift(4 * DAY)
    assert run(invitations_send_due_reminders) == 0
    assert mail.outbox == []


def test_no_reminder_when_reminders_are_switched_off(clock, invite, run):
    invitation = invite("jane@x.example")
    clock.shift(4 * DAY)
    with override_settings(PORTICO_REMINDERS=False):
        assert run(invitations_send_due_reminders) == 0
    assert reminders() == 0
    invitation.refresh_from_db()
    assert invitation.reminder_sent_at is None
    # Switched back on, the reminder is due (settings are read at call time).
    assert run(invitations_send_due_reminders) == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_reminder_sweeps_queue_each_reminder_once(admin):
    result = invitation_create_batch(
        actor=admin,
        rows=parse_typed_emails([f"p{n}@x.example" for n in range(30)]),
        options=InviteOptions(),
    )
    Invitation.objects.filter(pk__in=result.invitation_ids).update(sent_at=timezone.now() - 4 * DAY)
    counts = at_once(*[lambda: invitations_send_due_reminders(now=timezone.now())] * 6)
    assert all(isinstance(c, int) for c in counts), counts
    assert sum(counts) == 30
    assert reminders() == 30
    per_invitation = [
        InvitationMessage.objects.filter(kind="reminder", invitation_id=pk).count()
        for pk in result.invitation_ids
    ]
    assert per_invitation == [1] * 30


# Settings read at call time.


def test_the_lifetime_and_reminder_delay_settings_are_honoured(clock, invite, run):
    with override_settings(PORTICO_INVITATION_TTL="72h", PORTICO_REMINDER_DELAY="90s"):
        invitation = invite("jane@x.example")
        assert invitation.expires_at - invitation.sent_at == timedelta(hours=72)
        clock.shift(timedelta(seconds=89))
        assert run(invitations_send_due_reminders) == 0
        clock.shift(timedelta(seconds=1))
        assert run(invitations_send_due_reminders) == 1
        assert "It expires in 3 days." in mail_to("jane@x.example")[-1].body
        clock.shift(timedelta(hours=72) - timedelta(seconds=91))
        assert run(invitations_expire) == 0
        clock.shift(timedelta(seconds=1))
        assert run(invitations_expire) == 1


# Expiry.


def test_the_expiry_sweep_marks_pending_invitations_past_their_expiry(
    clock, invite, run, make_code
):
    jane = invite("jane@x.example")
    code = make_code()
    accepted = invite("done@x.example")
    accept(accepted)
    clock.shift(30 * DAY - timedelta(seconds=1))
    assert run(invitations_expire) == 0
    clock.shift(timedelta(seconds=1))
    assert run(invitations_expire) == 2
    for invitation in (jane, code):
        invitation.refresh_from_db()
        assert invitation.status == Invitation.Status.EXPIRED
        assert audit_verbs(invitation)[-1] == "invitation.expired"
    accepted.refresh_from_db()
    assert accepted.status == Invitation.Status.ACCEPTED
    assert run(invitations_expire) == 0
    assert AuditEvent.objects.filter(verb="invitation.expired").count() == 2
    assert AuditEvent.objects.get(verb="invitation.expired", target_id=str(jane.pk)).actor is None


@pytest.mark.parametrize("swept", [True, False], ids=["marked expired", "not swept yet"])
def test_an_expired_invitation_cannot_be_accepted(clock, invite, run, swept):
    invitation = invite("jane@x.example")
    clock.shift(30 * DAY)
    if swept:
        run(invitations_expire)
    with pytest.raises(ApplicationError) as caught:
        accept(invitation)
    assert (caught.value.code, caught.value.status) == ("invitation_expired", 410)
    assert not User.objects.filter(email="jane@x.example").exists()


# The outbox.


def test_each_message_is_sent_once_even_when_delivery_runs_twice(admin):
    queue(admin, "jane@x.example", "bob@x.example")
    assert mail.outbox == []
    now = timezone.now()
    assert invitation_messages_deliver_due(now=now) == 2
    assert invitation_messages_deliver_due(now=now) == 0
    assert invitation_messages_deliver_due(now=now + DAY) == 0
    assert sorted(to for m in mail.outbox for to in m.to) == ["bob@x.example", "jane@x.example"]
    for message in InvitationMessage.objects.all():
        assert message.sent_at == now
        assert message.attempts == 1
        assert message.failed_at is None


def test_a_message_not_yet_due_waits(admin):
    queue(admin, "jane@x.example")
    assert invitation_messages_deliver_due(now=timezone.now() - timedelta(minutes=1)) == 0
    assert mail.outbox == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_send_each_message_once(admin):
    queue(admin, *[f"p{n}@x.example" for n in range(40)])
    mail.outbox.clear()  # anything the commit's own delivery sent is counted below
    InvitationMessage.objects.update(sent_at=None, claimed_until=None, attempts=0)
    sent = at_once(*[lambda: invitation_messages_deliver_due(now=timezone.now())] * 5)
    assert all(isinstance(n, int) for n in sent), sent
    assert sum(sent) == 40
    recipients = sorted(to for m in mail.outbox for to in m.to)
    assert recipients == sorted(f"p{n}@x.example" for n in range(40))


def test_messages_of_an_accepted_invitation_are_cancelled(admin):
    (invitation,) = queue(admin, "jane@x.example")
    accept(invitation)
    assert invitation_messages_deliver_due(now=timezone.now()) == 0
    assert mail.outbox == []
    message = InvitationMessage.objects.get()
    assert message.sent_at is None
    assert message.failed_at is not None
    assert message.last_error.startswith("cancelled")


def test_messages_of_a_deleted_invitation_are_never_sent(admin):
    (invitation,) = queue(admin, "jane@x.example")
    invitation_delete(actor=admin, invitation_id=invitation.pk)
    assert not InvitationMessage.objects.exists()
    assert invitation_messages_deliver_due(now=timezone.now()) == 0
    assert mail.outbox == []


def test_messages_of_an_expired_invitation_are_cancelled(admin):
    (invitation,) = queue(admin, "jane@x.example")
    assert invitation_messages_deliver_due(now=invitation.expires_at) == 0
    assert mail.outbox == []
    assert InvitationMessage.objects.get().failed_at is not None


# Resend.


def test_resend_keeps_the_token_and_restarts_the_lifetime(clock, admin, invite, run):
    invitation = invite("jane@x.example")
    token = invitation.token
    clock.shift(3 * DAY)
    run(invitations_send_due_reminders)
    clock.shift(7 * DAY)
    resent = run(invitation_resend, actor=admin, invitation_id=invitation.pk)
    now = timezone.now()
    invitation.refresh_from_db()
    assert resent.pk == invitation.pk
    assert invitation.token == token
    assert invitation.sent_at == now
    assert invitation.expires_at == now + 30 * DAY
    assert invitation.reminder_sent_at is None
    emails = mail_to("jane@x.example")
    assert len(emails) == 3
    assert token in emails[-1].body
    assert "invitation.resent" in audit_verbs(invitation)
    event = AuditEvent.objects.get(verb="invitation.resent")
    assert event.actor == admin
    # One new reminder, three days after the resend.
    clock.shift(3 * DAY - timedelta(seconds=1))
    assert run(invitations_send_due_reminders) == 0
    clock.shift(timedelta(seconds=1))
    assert run(invitations_send_due_reminders) == 1
    assert "It expires in 27 days." in mail_to("jane@x.example")[-1].body


def test_resending_an_expired_invitation_renews_it(clock, admin, invite, run):
    invitation = invite("jane@x.example")
    clock.shift(40 * DAY)
    run(invitations_expire)
    run(invitation_resend, actor=admin, invitation_id=invitation.pk)
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.PENDING
    assert invitation.expires_at == timezone.now() + 30 * DAY
    assert accept(invitation).email == "jane@x.example"


def test_a_resend_replaces_the_unsent_email_in_the_outbox(admin):
    (invitation,) = queue(admin, "jane@x.example")
    invitation_resend(actor=admin, invitation_id=invitation.pk)
    assert invitation_messages_deliver_due(now=timezone.now()) == 1
    assert len(mail_to("jane@x.example")) == 1


def test_an_accepted_invitation_cannot_be_resent(admin, invite):
    invitation = invite("jane@x.example")
    accept(invitation)
    with pytest.raises(ApplicationError) as caught:
        invitation_resend(actor=admin, invitation_id=invitation.pk)
    assert (caught.value.code, caught.value.status) == ("invitation_already_accepted", 409)


def test_resending_an_unknown_invitation_is_not_found(admin):
    with pytest.raises(ApplicationError) as caught:
        invitation_resend(actor=admin, invitation_id=987654)
    assert (caught.value.code, caught.value.status) == ("not_found", 404)


# Delete.


def test_deleting_a_pending_invitation_frees_the_address_and_withdraws_its_rights(
    admin, invite, neighbours, create_batch
):
    (invitation,) = queue(admin, "jane@x.example", is_admin=True, group_ids=[neighbours.pk])
    token = invitation.token
    assert InvitationMessage.objects.filter(invitation=invitation).count() == 1
    invitation_delete(actor=admin, invitation_id=invitation.pk)
    assert not Invitation.objects.filter(pk=invitation.pk).exists()
    assert not InvitationMessage.objects.exists()
    assert not neighbours.invitations.exists()
    event = AuditEvent.objects.get(verb="invitation.deleted")
    assert (event.actor, event.target_id) == (admin, str(invitation.pk))
    assert event.details["status"] == "pending"
    assert event.details["email"] == "jane@x.example"

    result = create_batch("jane@x.example")
    assert result.counts["invited"] == 1
    fresh = Invitation.objects.get()
    assert fresh.token != token
    assert not fresh.is_admin
    assert not fresh.groups.exists()
    assert len(mail_to("jane@x.example")) == 1


def test_a_deleted_invitation_can_no_longer_be_accepted(admin, invite):
    invitation = invite("jane@x.example")
    invitation_delete(actor=admin, invitation_id=invitation.pk)
    with pytest.raises(ApplicationError) as caught:
        accept(invitation)
    assert caught.value.code == "token_not_found"


def test_deleting_an_accepted_invitation_keeps_the_user(admin, invite, neighbours):
    invitation = invite("jane@x.example", is_admin=True, group_ids=[neighbours.pk])
    user = accept(invitation)
    invitation_delete(actor=admin, invitation_id=invitation.pk)
    user.refresh_from_db()
    assert user.is_active
    assert user.is_admin
    assert Membership.objects.filter(user=user, group=neighbours).exists()
    assert AuditEvent.objects.get(verb="invitation.deleted").details["status"] == "accepted"


# Bulk operations.


def test_bulk_resend_reports_per_id_and_names_the_unknown_ones(admin, invite, run):
    jane, bob, done = (invite(e) for e in ("jane@x.example", "bob@x.example", "d@x.example"))
    accept(done)
    mail.outbox.clear()
    outcomes = run(invitations_resend, actor=admin, ids=[jane.pk, 987654, done.pk, bob.pk])
    assert [(o["id"], o["ok"], o.get("code")) for o in outcomes] == [
        (jane.pk, True, None),
        (987654, False, "not_found"),
        (done.pk, False, "invitation_already_accepted"),
        (bob.pk, True, None),
    ]
    assert all(o["message"] for o in outcomes if not o["ok"])
    assert sorted(to for m in mail.outbox for to in m.to) == ["bob@x.example", "jane@x.example"]
    assert AuditEvent.objects.filter(verb="invitation.resent").count() == 2


def test_bulk_delete_reports_per_id_and_names_the_unknown_ones(admin, invite):
    jane, bob = invite("jane@x.example"), invite("bob@x.example")
    outcomes = invitations_delete(actor=admin, ids=[jane.pk, 987654, bob.pk, jane.pk])
    assert [(o["id"], o["ok"], o.get("code")) for o in outcomes] == [
        (jane.pk, True, None),
        (987654, False, "not_found"),
        (bob.pk, True, None),
    ]
    assert not Invitation.objects.exists()
    assert AuditEvent.objects.filter(verb="invitation.deleted").count() == 2


# The audit trail of a lifetime.


def test_every_step_of_an_invitation_is_audited(clock, admin, invite, run):
    invitation = invite("jane@x.example")
    clock.shift(3 * DAY)
    run(invitations_send_due_reminders)
    clock.shift(DAY)
    run(invitation_resend, actor=admin, invitation_id=invitation.pk)
    clock.shift(DAY)
    user = accept(invitation)
    run(invitation_delete, actor=admin, invitation_id=invitation.pk)
    assert audit_verbs(invitation) == [
        "invitation.created",
        "invitation.sent",
        "invitation.reminded",
        "invitation.resent",
        "invitation.sent",
        "invitation.accepted",
        "invitation.deleted",
    ]
    actors = dict(
        AuditEvent.objects.filter(target_id=str(invitation.pk)).values_list("verb", "actor")
    )
    assert actors["invitation.created"] == admin.pk
    assert actors["invitation.resent"] == admin.pk
    assert actors["invitation.accepted"] == user.pk
    assert actors["invitation.deleted"] == admin.pk
    assert actors["invitation.sent"] is None
    assert actors["invitation.reminded"] is None
