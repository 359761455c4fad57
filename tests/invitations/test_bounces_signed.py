"""Providers whose webhooks are signed (here Mailgun): the signing key comes from the
environment like the webhook secret, and only a correctly signed bounce counts."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client

from portico.invitations.models import Invitation

WEBHOOK = "/anymail/mailgun/tracking/"
SECRET = "mailgun:5ecret-webhook-password"
SIGNING_KEY = "key-of-the-mailgun-webhooks"
AUTH = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(SECRET.encode()).decode()}


@pytest.fixture(autouse=True)
def _mailgun_configured(settings) -> None:
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET, "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}


def failed_event(recipient: str, *, severity: str = "permanent", key: str = SIGNING_KEY):
    """Mailgun's "failed" event as its webhook posts it, signed with ``key``."""
    timestamp, token = "1772443800", "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0"
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256)
    return {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature.hexdigest()},
        "event-data": {
            "event": "failed",
            "severity": severity,
            "reason": "bounce",
            "timestamp": 1772443800.0,
            "recipient": recipient,
            "delivery-status": {"code": 550, "message": "5.1.1 No such user", "description": ""},
            "message": {"headers": {"message-id": "20260302093000.1.abc@mg.example.org"}},
        },
    }


def post(client: Client, payload: dict[str, Any]):
    return client.post(WEBHOOK, data=json.dumps(payload), content_type="application/json", **AUTH)


@pytest.fixture
def ruth(invite) -> Invitation:
    invitation = invite("Ruth Bounce <ruth@typo.example>")
    assert invitation.messages.filter(sent_at__isnull=False).exists()
    return invitation


def test_a_signed_permanent_failure_marks_the_invitation_not_delivered(client, ruth):
    response = post(client, failed_event("ruth@typo.example"))

    assert response.status_code == 200
    ruth.refresh_from_db()
    assert ruth.delivery_failed_at is not None
    assert "5.1.1 No such user" in ruth.delivery_error


def test_a_bounce_signed_with_another_key_is_refused(client, ruth):
    response = post(client, failed_event("ruth@typo.example", key="someone-else's-key"))

    assert response.status_code == 400
    ruth.refresh_from_db()
    assert ruth.delivery_failed_at is None


def test_a_temporary_failure_is_a_deferral_and_changes_nothing(client, ruth):
    response = post(client, failed_event("ruth@typo.example", severity="temporary"))

    assert response.status_code == 200
    ruth.refresh_from_db()
    assert ruth.delivery_failed_at is None


def test_anymail_settings_are_read_from_anymail_environment_variables():
    """ANYMAIL_<NAME> becomes ANYMAIL["<NAME>"]; empty ones are left out."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ANYMAIL_")}
    environ |= {
        "DJANGO_SETTINGS_MODULE": "portico.settings",
        "ANYMAIL_WEBHOOK_SECRET": SECRET,
        "ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY,
        "ANYMAIL_POSTAL_WEBHOOK_KEY": "",
    }
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, django; django.setup(); from django.conf import settings;"
            " print(json.dumps(settings.ANYMAIL, sort_keys=True))",
        ],
        cwd=Path(django_settings.BASE_DIR),
        env=environ,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(completed.stdout) == {
        "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY,
        "WEBHOOK_SECRET": SECRET,
    }
