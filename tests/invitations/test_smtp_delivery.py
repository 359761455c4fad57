"""Invitation emails over real SMTP: an aiosmtpd server on 127.0.0.1 receives them.

Mail is written to the outbox in the transaction that invites, and the worker task
(run inline by the test settings' Immediate backend) delivers it once the transaction
commits: ``django_capture_on_commit_callbacks(execute=True)`` plays that commit.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.core.mail import mailers
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.tasks import TaskResultStatus
from django.tasks.signals import task_finished
from django.utils import timezone

from portico.invitations.models import Invitation, InvitationMessage
from portico.invitations.services.create import (
    InviteOptions,
    invitation_create_batch,
    parse_typed_emails,
)
from portico.invitations.services.jobs import invitation_messages_deliver_due
from tests.invitations.smtp_server import CollectingHandler, SMTPServer, free_port

LINK = re.compile(r"(https?://[^\s\"'<>]+/invite/([0-9A-Z]+)/)")
ADDRESSES = ["nina.north@mail.example", "omar.oak@mail.example", "pia.park@mail.example"]
MESSAGE = "Welcome to the <strong>North Avenue</strong> panel!"


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server, and the default mailer pointed at it."""
    server = SMTPServer().start()
    settings.MAILERS = server.mailers_setting()
    yield server
    server.stop()


@pytest.fixture
def task_results():
    """The outcome of every background task run while the test runs."""
    results = []

    def record(sender, task_result, **kwargs):
        results.append(task_result)

    task_finished.connect(record)
    yield results
    task_finished.disconnect(record)


def _invite(actor, addresses, **options):
    return invitation_create_batch(
        actor=actor,
        rows=parse_typed_emails(", ".join(addresses)),
        options=InviteOptions(**options),
    )


def _outbox():
    return list(InvitationMessage.objects.select_related("invitation").order_by("id"))


def test_the_default_mailer_follows_a_changed_mailers_setting(settings):
    """Django 6.1 builds ``mailers.default`` from settings.MAILERS on every access (no
    cache to reset), so pointing the setting at a server is enough."""
    port = free_port()
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 5},
        }
    }
    mailer = mailers.default
    assert isinstance(mailer, SMTPBackend)
    assert (mailer.host, mailer.port, mailer.timeout) == ("127.0.0.1", port, 5)


def test_inviting_three_addresses_delivers_three_emails_over_smtp(
    admin, admin_client, anonymous_client, smtp_server, task_results,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/api/v1/invitations",
            {"emails": ADDRESSES, "message": MESSAGE, "language": "en"},
            content_type="application/json",
        )
    assert response.status_code == 201, response.content
    assert response.json()["invited"] == 3
    assert [r.status for r in task_results] == [TaskResultStatus.SUCCESSFUL]

    assert len(smtp_server.messages) == 3
    assert sorted(r for m in smtp_server.messages for r in m.rcpt_tos) == sorted(ADDRESSES)
    tokens = set()
    for received in smtp_server.messages:
        message = received.message
        address = received.rcpt_tos[0]
        assert message.get_content_type() == "multipart/alternative"
        assert sorted(p.get_content_type() for p in message.iter_parts()) == [
            "text/html",
            "text/plain",
        ]
        assert message["From"] == django_settings.DEFAULT_FROM_EMAIL
        assert received.mail_from == "noreply@portico.localhost"
        assert message["To"] == address
        assert message["Subject"] == "Ada Admin invites you to Portico"
        assert message["X-Portico-Message"].startswith("invitation-")  # traces bounces
        text, html = received.part("plain"), received.part("html")
        for body in (text, html):
            assert "Ada Admin" in body  # who invited
            assert django_settings.PORTICO_PLATFORM_NAME in body
            assert "The invitation expires in 30 days." in body
        assert "<strong>North Avenue</strong> panel" in html  # safe formatting kept
        assert "Welcome to the North Avenue panel!" in text  # and flattened for text
        assert "<strong>" not in text

        (text_link, token), *_ = LINK.findall(text)
        assert {link for link, _t in LINK.findall(html)} == {text_link}
        assert f'href="{text_link}"' in html  # the button
        tokens.add(token)
        invitation = Invitation.objects.get(email=address)
        assert token == invitation.token
        page = anonymous_client.get(text_link.removeprefix(django_settings.BASE_URL))
        assert page.status_code == 200
        assert address in page.content.decode()
    assert len(tokens) == 3

    outbox = _outbox()
    assert len(outbox) == 3
    assert all(m.sent_at and m.attempts == 1 and not m.failed_at for m in outbox)
    # Opening the links changed nothing.
    assert Invitation.objects.filter(status=Invitation.Status.PENDING).count() == 3


def test_server_down_then_back_delivers_each_message_exactly_once(
    admin, settings, task_results, django_capture_on_commit_callbacks, request
):
    server = SMTPServer().reserve()  # nothing listens on its port
    request.addfinalizer(server.stop)
    settings.MAILERS = server.mailers_setting()
    before = timezone.now()

    with django_capture_on_commit_callbacks(execute=True):
        result = _invite(admin, ADDRESSES)  # no exception escapes
    assert result.counts["emails"] == 3
    assert [r.status for r in task_results] == [TaskResultStatus.SUCCESSFUL]
    # The job itself does not raise either.
    assert invitation_messages_deliver_due(now=timezone.now()) == 0

    outbox = _outbox()
    assert len(outbox) == 3
    for message in outbox:
        assert message.sent_at is None
        assert message.failed_at is None
        assert message.attempts == 1
        assert message.next_attempt_at > before
        assert message.next_attempt_at > timezone.now()
        assert message.claimed_until is None
        assert message.last_error
        assert message.invitation.delivery_failed_at is None
    retry_at = max(m.next_attempt_at for m in outbox)

    server.start()  # the server comes back
    # Before the back-off has passed, nothing is tried.
    assert invitation_messages_deliver_due(now=timezone.now()) == 0
    assert server.messages == []

    later = retry_at + timedelta(seconds=1)
    assert invitation_messages_deliver_due(now=later) == 3
    assert sorted(r for m in server.messages for r in m.rcpt_tos) == sorted(ADDRESSES)
    for message in _outbox():
        assert message.sent_at == later
        assert message.attempts == 2
        assert message.failed_at is None

    # Running the job again (or much later) sends nothing more.
    assert invitation_messages_deliver_due(now=later) == 0
    assert invitation_messages_deliver_due(now=later + timedelta(days=1)) == 0
    assert len(server.messages) == 3


def test_a_refused_recipient_fails_its_message_and_the_others_are_delivered(
    admin, admin_client, settings, django_capture_on_commit_callbacks
):
    refused = ADDRESSES[1]  # in the middle: the connection must go on after the refusal
    handler = CollectingHandler(refuse={refused: "550 no such user"})
    server = SMTPServer(handler=handler).start()
    settings.MAILERS = server.mailers_setting()
    try:
        with django_capture_on_commit_callbacks(execute=True):
            _invite(admin, ADDRESSES)

        delivered = sorted(r for m in server.messages for r in m.rcpt_tos)
        assert delivered == sorted(a for a in ADDRESSES if a != refused)

        failed = InvitationMessage.objects.get(invitation__email=refused)
        assert failed.failed_at is not None
        assert failed.sent_at is None
        assert failed.attempts == 1
        assert "550" in failed.last_error
        invitation = Invitation.objects.get(email=refused)
        assert invitation.delivery_failed_at is not None
        assert "550" in invitation.delivery_error
        assert "no such user" in invitation.delivery_error
        for address in ADDRESSES:
            if address != refused:
                message = InvitationMessage.objects.get(invitation__email=address)
                assert message.sent_at is not None
                assert message.failed_at is None
                assert Invitation.objects.get(email=address).delivery_failed_at is None

        # A failed message is not retried; nothing else is sent twice.
        assert invitation_messages_deliver_due(now=timezone.now() + timedelta(days=1)) == 0
        assert len(server.messages) == 2

        # The admin sees which invitation could not be delivered.
        page = admin_client.get("/manage/invitations/").content.decode()
        row = next(r for r in page.split('data-testid="invitation-row"') if refused in r)
        assert "not delivered" in row
    finally:
        server.stop()


def test_a_temporary_refusal_is_retried_not_failed(
    admin, settings, django_capture_on_commit_callbacks
):
    """Greylisting servers answer ``450`` to RCPT TO: try later, it is not a bad address."""
    greylisted = ADDRESSES[0]
    handler = CollectingHandler(
        refuse={greylisted: "450 greylisted, try again later"}, refuse_times={greylisted: 1}
    )
    server = SMTPServer(handler=handler).start()
    settings.MAILERS = server.mailers_setting()
    try:
        with django_capture_on_commit_callbacks(execute=True):
            _invite(admin, ADDRESSES)
        assert sorted(r for m in server.messages for r in m.rcpt_tos) == sorted(ADDRESSES[1:])

        waiting = InvitationMessage.objects.get(invitation__email=greylisted)
        assert waiting.failed_at is None
        assert waiting.sent_at is None
        assert waiting.attempts == 1
        assert waiting.next_attempt_at > timezone.now()
        assert Invitation.objects.get(email=greylisted).delivery_failed_at is None

        later = waiting.next_attempt_at + timedelta(seconds=1)
        assert invitation_messages_deliver_due(now=later) == 1
        assert len(server.handler.to(greylisted)) == 1
        assert invitation_messages_deliver_due(now=later + timedelta(hours=1)) == 0
        assert len(server.messages) == 3
    finally:
        server.stop()
