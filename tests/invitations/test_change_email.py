"""Fixing the address of an invitation that could not be delivered: the service
``invitation_change_email`` and ``PATCH /api/v1/invitations/{id}``.

The refusal is real: the invitation is sent through an SMTP server on 127.0.0.1 that
answers ``550`` for the mistyped address (the worker's own path marks it undelivered);
the fixed invitation then goes to Django's in-memory outbox (``mail.outbox``).
"""

from __future__ import annotations

import threading
from datetime import timedelta
from functools import partial

import pytest
import time_machine
from django.core import mail
from django.db import connection, transaction
from django.utils import timezone

from portico.core.errors import ApplicationError
from portico.core.models import AuditEvent
from portico.invitations.models import Invitation, InvitationMessage
from portico.invitations.selectors import open_invitation_for_address
from portico.invitations.services import manage
from portico.invitations.services.accept import invitation_accept
from portico.invitations.services.create import (
    BatchResult,
    InviteOptions,
    invitation_create_batch,
    parse_typed_emails,
)
from portico.invitations.services.jobs import invitation_messages_deliver_due
from portico.invitations.services.manage import invitation_change_email
from tests.concurrency import at_once
from tests.conftest import PASSWORD, make_user
from tests.invitations.bulk import make_invitations
from tests.invitations.conftest import audit_verbs, mail_to
from tests.invitations.smtp_server import CollectingHandler, SMTPServer

URL = "/api/v1/invitations"
JSON = "application/json"
TYPO = "jane.doe@gmial.example"
FIXED = "jane.doe@gmail.example"
LOCMEM = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}


@pytest.fixture
def refused(settings, invite, neighbours, garden) -> Invitation:
    """An invitation to a mistyped address, with a group, admin rights and a project to
    moderate, that the mail server refused (``550``); mail then goes to ``mail.outbox``."""
    server = SMTPServer(handler=CollectingHandler(refuse={TYPO: "550 no such user"})).start()
    settings.MAILERS = server.mailers_setting()
    try:
        invitation = invite(
            f"Jane Doe <{TYPO}>",
            is_admin=True,
            moderator=True,
            project_ids=[garden.pk],
            group_ids=[neighbours.pk],
            language="nl-BE",
        )
    finally:
        server.stop()
    settings.MAILERS = LOCMEM
    assert server.messages == []
    invitation.refresh_from_db()
    assert invitation.delivery_failed_at is not None
    assert "550" in invitation.delivery_error
    return invitation


def _change(admin, invitation: Invitation, email: str, capture) -> Invitation:
    with capture(execute=True):
        return invitation_change_email(actor=admin, invitation_id=invitation.pk, email=email)


def _error(callable_, *args, **kwargs) -> ApplicationError:
    with pytest.raises(ApplicationError) as caught:
        callable_(*args, **kwargs)
    return caught.value


# --- The service -------------------------------------------------------------------------


def test_fixing_a_refused_invitation_sends_one_email_to_the_new_address(
    admin, refused, django_capture_on_commit_callbacks
):
    old_token = refused.token

    changed = _change(admin, refused, FIXED, django_capture_on_commit_callbacks)

    assert [m.to for m in mail.outbox] == [[FIXED]]
    changed.refresh_from_db()
    assert changed.email == FIXED
    assert changed.delivery_failed_at is None
    assert changed.delivery_error == ""
    assert changed.status == Invitation.Status.PENDING
    assert changed.token != old_token
    assert changed.token in mail.outbox[0].body
    assert old_token not in mail.outbox[0].body
    message = InvitationMessage.objects.filter(invitation=changed).latest("id")
    assert message.sent_at is not None


def test_the_token_changes_the_old_one_is_unknown_and_the_new_one_works(
    admin, refused, client, django_capture_on_commit_callbacks
):
    old_token = refused.token_display
    changed = _change(admin, refused, FIXED, django_capture_on_commit_callbacks)

    response = client.post("/invite/", {"token": old_token})
    assert response.status_code == 404
    assert client.get(f"/invite/{old_token}/").status_code == 404

    response = client.post("/invite/", {"token": changed.token_display})
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert FIXED in page.content.decode()


def test_groups_rights_language_and_names_are_kept(
    admin, refused, neighbours, garden, django_capture_on_commit_callbacks
):
    changed = _change(admin, refused, FIXED, django_capture_on_commit_callbacks)

    changed.refresh_from_db()
    assert list(changed.groups.all()) == [neighbours]
    assert list(changed.moderated_projects.all()) == [garden]
    assert changed.is_admin
    assert changed.language == "nl-BE"
    assert (changed.first_name, changed.last_name) == ("Jane", "Doe")
    # In the invitee's language, from the same inviter.
    assert mail.outbox[0].subject == "Ada Admin nodigt u uit op Portico"

    user = invitation_accept(
        token=changed.token, first_name="Jane", last_name="Doe", password=PASSWORD
    )
    assert user.email == FIXED
    assert user.is_admin
    assert list(user.memberships.values_list("group", flat=True)) == [neighbours.pk]


def test_an_email_still_queued_for_the_old_address_is_cancelled_never_sent(
    admin, django_capture_on_commit_callbacks
):
    # Invited, its email written to the outbox, the worker not run yet.
    result = invitation_create_batch(
        actor=admin, rows=parse_typed_emails(TYPO), options=InviteOptions()
    )
    invitation = Invitation.objects.get(pk=result.invitation_ids[0])
    (queued,) = InvitationMessage.objects.filter(invitation=invitation)

    _change(admin, invitation, FIXED, django_capture_on_commit_callbacks)

    assert [m.to for m in mail.outbox] == [[FIXED]]
    assert mail_to(TYPO) == []
    queued.refresh_from_db()
    assert queued.sent_at is None
    assert queued.failed_at is not None
    assert "superseded" in queued.last_error
    # Later sweeps send nothing more, to either address.
    assert invitation_messages_deliver_due(now=timezone.now() + timedelta(days=1)) == 0
    assert len(mail.outbox) == 1


def test_an_expired_invitation_is_pending_again_with_a_new_lifetime(
    admin, invite, django_capture_on_commit_callbacks
):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        invitation = invite(TYPO)
    mail.outbox.clear()
    later = start + timedelta(days=40)
    with time_machine.travel(later, tick=False):
        assert invitation.effective_status() == Invitation.Status.EXPIRED
        changed = _change(admin, invitation, FIXED, django_capture_on_commit_callbacks)
        changed.refresh_from_db()
        assert changed.effective_status() == Invitation.Status.PENDING
        assert changed.sent_at == later
        assert changed.expires_at == later + timedelta(days=30)
        assert changed.reminder_sent_at is None
    assert [m.to for m in mail.outbox] == [[FIXED]]


def test_a_code_without_an_address_gets_one_and_is_sent(
    admin, make_code, neighbours, django_capture_on_commit_callbacks
):
    code = make_code(group_ids=[neighbours.pk])
    assert mail.outbox == []
    assert not code.send_email

    changed = _change(admin, code, "Sam.Smith@Mail.Example", django_capture_on_commit_callbacks)

    changed.refresh_from_db()
    assert changed.email == "Sam.Smith@mail.example"  # the domain in lower case
    assert changed.send_email
    assert list(changed.groups.all()) == [neighbours]
    assert [m.to for m in mail.outbox] == [["Sam.Smith@mail.example"]]
    assert changed.token in mail.outbox[0].body
    event = AuditEvent.objects.get(verb="invitation.email_changed")
    assert event.details["old_email"] == ""


def test_the_address_is_trimmed_and_its_domain_lower_cased(
    admin, refused, django_capture_on_commit_callbacks
):
    changed = _change(
        admin, refused, "  Jane.Doe@GMAIL.Example  ", django_capture_on_commit_callbacks
    )
    assert changed.email == "Jane.Doe@gmail.example"
    assert [m.to for m in mail.outbox] == [["Jane.Doe@gmail.example"]]


def test_the_same_address_in_another_case_is_not_a_conflict_with_itself(
    admin, refused, django_capture_on_commit_callbacks
):
    old_token = refused.token
    changed = _change(admin, refused, TYPO.upper(), django_capture_on_commit_callbacks)
    assert changed.email == "JANE.DOE@gmial.example"
    assert changed.token != old_token
    assert len(mail.outbox) == 1


def test_the_change_is_audited_with_both_addresses(
    admin, refused, django_capture_on_commit_callbacks
):
    changed = _change(admin, refused, FIXED, django_capture_on_commit_callbacks)

    event = AuditEvent.objects.get(verb="invitation.email_changed")
    assert event.actor == admin
    assert event.target_id == str(changed.pk)
    assert event.details["old_email"] == TYPO
    assert event.details["new_email"] == FIXED
    assert event.details["expires_at"] == changed.expires_at.isoformat()
    assert changed.token not in str(event.details)  # tokens are never logged
    assert audit_verbs(changed)[-2:] == ["invitation.email_changed", "invitation.sent"]


# --- What it refuses ---------------------------------------------------------------------


def _nothing_changed(invitation: Invitation) -> None:
    before = (invitation.email, invitation.token_hash, invitation.delivery_error)
    invitation.refresh_from_db()
    assert (invitation.email, invitation.token_hash, invitation.delivery_error) == before
    assert mail.outbox == []
    assert not AuditEvent.objects.filter(verb="invitation.email_changed").exists()


def test_an_unknown_invitation_is_not_found(admin):
    error = _error(invitation_change_email, actor=admin, invitation_id=987654, email=FIXED)
    assert (error.code, error.status, error.details["id"]) == ("not_found", 404, 987654)


def test_an_accepted_invitation_keeps_its_address(admin, invite):
    invitation = invite(FIXED)
    invitation_accept(token=invitation.token, first_name="J", last_name="D", password=PASSWORD)
    invitation.refresh_from_db()
    mail.outbox.clear()

    error = _error(
        invitation_change_email, actor=admin, invitation_id=invitation.pk, email="x@mail.example"
    )

    assert (error.code, error.status) == ("invitation_already_accepted", 409)
    _nothing_changed(invitation)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "jane.doe",
        "jane doe@gmail.example",
        "jane@",
        "a@b@c.example",
        "x" * 250 + "@a.be",
    ],
)
def test_an_invalid_address_is_refused_with_its_value(admin, refused, value):
    error = _error(invitation_change_email, actor=admin, invitation_id=refused.pk, email=value)
    assert (error.code, error.status) == ("invalid_email", 422)
    assert error.details["value"] == value
    assert error.details["field"] == "email"
    _nothing_changed(refused)


def test_the_address_of_a_registered_account_is_refused(admin, refused, resident):
    error = _error(
        invitation_change_email,
        actor=admin,
        invitation_id=refused.pk,
        email=resident.email.upper(),
    )
    assert (error.code, error.status) == ("email_registered", 409)
    assert "invite that account" in error.message
    _nothing_changed(refused)


def test_the_address_of_another_open_invitation_is_refused_naming_it(admin, refused, invite):
    other = invite("Other.Person@Mail.example")
    mail.outbox.clear()

    error = _error(
        invitation_change_email,
        actor=admin,
        invitation_id=refused.pk,
        email="other.person@MAIL.EXAMPLE",
    )

    assert (error.code, error.status) == ("email_already_invited", 409)
    assert error.details["other_id"] == other.pk
    assert f"#{other.pk}" in error.message
    _nothing_changed(refused)


def test_the_address_of_an_accepted_invitation_is_free(
    admin, refused, invite, django_capture_on_commit_callbacks
):
    """An accepted invitation holds no address (its account does): only the account is a
    reason to refuse, and a deleted account leaves the address free."""
    other = invite("taken@mail.example")
    user = invitation_accept(token=other.token, first_name="T", last_name="K", password=PASSWORD)
    user.delete()
    mail.outbox.clear()

    changed = _change(admin, refused, "taken@mail.example", django_capture_on_commit_callbacks)
    assert changed.email == "taken@mail.example"


def test_an_invitation_created_between_the_check_and_the_save_gives_409_not_500(
    admin, refused, monkeypatch
):
    """Another admin invites the address after this change looked for one and before it
    saves: the one-open-invitation-per-address constraint refuses the save, and the
    change answers ``email_already_invited`` naming that invitation. The competing
    invitation is written inside the change's own transaction, right after its check
    (on PostgreSQL a concurrent transaction can commit at exactly that moment; SQLite
    runs one writer at a time)."""
    real_lookup = manage.open_invitation_for_address
    competing: list[Invitation] = []

    def lookup_then_someone_invites(email: str):
        found = real_lookup(email)
        if not competing:
            competing.extend(make_invitations(1, email=FIXED))
        return found

    monkeypatch.setattr(manage, "open_invitation_for_address", lookup_then_someone_invites)

    error = _error(invitation_change_email, actor=admin, invitation_id=refused.pk, email=FIXED)

    assert (error.code, error.status) == ("email_already_invited", 409)
    assert error.details["other_id"] == competing[0].pk
    _nothing_changed(refused)


@pytest.mark.django_db(transaction=True)
def test_an_invitation_committed_while_the_change_runs_gives_409_naming_it(monkeypatch):
    """The race for real: another transaction has inserted an invitation of the address
    and commits only once the change has looked for one (and not seen it). On PostgreSQL
    the change's save then waits for that commit and breaks the constraint; SQLite runs
    one writer at a time, so there the change waits for the other transaction first and
    finds its invitation. The answer is the same on both."""
    admin = make_user("admin@city.example", is_admin=True)
    (invitation,) = make_invitations(1, prefix="typo", inviter=admin)
    inserted, checked = threading.Event(), threading.Event()
    real_lookup = manage.open_invitation_for_address

    def lookup(email: str):
        found = real_lookup(email)
        checked.set()
        return found

    monkeypatch.setattr(manage, "open_invitation_for_address", lookup)
    competing: list[int] = []

    def other_admin_invites():
        try:
            with transaction.atomic():
                competing.append(make_invitations(1, email=FIXED, inviter=admin)[0].pk)
                inserted.set()
                if connection.vendor == "postgresql":
                    checked.wait(timeout=30)  # commit right after the change's check
        finally:
            connection.close()

    thread = threading.Thread(target=other_admin_invites)
    thread.start()
    try:
        assert inserted.wait(timeout=30)
        error = _error(
            invitation_change_email, actor=admin, invitation_id=invitation.pk, email=FIXED
        )
    finally:
        thread.join()

    assert (error.code, error.status) == ("email_already_invited", 409)
    assert error.details["other_id"] == competing[0]
    invitation.refresh_from_db()
    assert invitation.email != FIXED


@pytest.mark.django_db(transaction=True)
def test_changing_to_an_address_another_admin_invites_at_the_same_moment_never_fails():
    """On SQLite and PostgreSQL alike: one open invitation for the address, each side
    either succeeds or answers a 409 (never a 500)."""
    admins = [make_user(f"admin{i}@city.example", is_admin=True) for i in range(2)]
    (invitation,) = make_invitations(1, prefix="typo", inviter=admins[0])
    changed, invited = at_once(
        partial(invitation_change_email, actor=admins[0], invitation_id=invitation.pk, email=FIXED),
        partial(
            invitation_create_batch,
            actor=admins[1],
            rows=parse_typed_emails(FIXED),
            options=InviteOptions(),
        ),
    )

    assert isinstance(changed, Invitation) or changed == "email_already_invited", changed
    assert isinstance(invited, BatchResult) or invited == "conflict", invited
    assert isinstance(changed, Invitation) or isinstance(invited, BatchResult)
    assert open_invitation_for_address(FIXED) is not None
    assert Invitation.objects.open_for_address().filter(email__iexact=FIXED).count() == 1


# --- The API -----------------------------------------------------------------------------


def _patch(client, invitation_id: int, data):
    return client.patch(f"{URL}/{invitation_id}", data, content_type=JSON)


def test_patch_changes_the_address_and_answers_the_invitation_without_token(
    admin_client, refused, neighbours, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _patch(admin_client, refused.pk, {"email": FIXED})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == refused.pk
    assert body["email"] == FIXED
    assert body["status"] == "pending"
    assert body["delivery_error"] == ""
    assert body["token"] is None
    assert body["group_ids"] == [neighbours.pk]
    assert body["is_admin"] is True
    assert admin_client.get(f"{URL}/{refused.pk}").json() == body  # as GET shows it
    assert [m.to for m in mail.outbox] == [[FIXED]]
    refused.refresh_from_db()
    assert refused.token not in response.content.decode()


def test_patch_errors_use_the_standard_format(admin_client, refused, resident, invite):
    other = invite("other@mail.example")
    accepted = invite("accepted@mail.example")
    invitation_accept(token=accepted.token, first_name="A", last_name="C", password=PASSWORD)
    mail.outbox.clear()
    cases = [
        (987654, {"email": FIXED}, 404, "not_found"),
        (accepted.pk, {"email": FIXED}, 409, "invitation_already_accepted"),
        (refused.pk, {"email": "not an address"}, 422, "invalid_email"),
        (refused.pk, {"email": resident.email}, 409, "email_registered"),
        (refused.pk, {"email": "OTHER@mail.example"}, 409, "email_already_invited"),
    ]
    for invitation_id, payload, status, code in cases:
        response = _patch(admin_client, invitation_id, payload)
        assert response.status_code == status, (code, response.content)
        (error,) = response.json()["errors"]
        assert error["code"] == code
        assert error["message"]
    errors = _patch(admin_client, refused.pk, {"email": "not an address"}).json()["errors"]
    assert errors[0]["value"] == "not an address"
    errors = _patch(admin_client, refused.pk, {"email": "other@mail.example"}).json()["errors"]
    assert errors[0]["other_id"] == other.pk
    _nothing_changed(refused)


def test_patch_without_an_email_answers_422(admin_client, refused):
    response = _patch(admin_client, refused.pk, {})
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"]
    _nothing_changed(refused)


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        ("resident", 403, "permission_denied"),
        ("moderator", 403, "permission_denied"),
        ("anonymous", 401, "not_authenticated"),
    ],
)
def test_only_admins_may_change_an_address(
    who, status, code, refused, resident_client, moderator_client, anonymous_client
):
    client = {
        "resident": resident_client,
        "moderator": moderator_client,
        "anonymous": anonymous_client,
    }[who]
    response = _patch(client, refused.pk, {"email": FIXED})
    assert response.status_code == status
    assert response.json()["errors"][0]["code"] == code
    _nothing_changed(refused)
