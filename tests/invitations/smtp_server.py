"""A real SMTP server for the delivery tests: aiosmtpd on 127.0.0.1, on a free port.

The handler keeps every message it accepts and can refuse chosen recipients, for good
(``550``) or for now (``450``, as greylisting servers do).
"""

from __future__ import annotations

import email
import email.policy
import socket
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.controller import Controller


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (right now)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    def part(self, subtype: str) -> str:
        """The decoded text of the ``text/<subtype>`` part."""
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None, f"no text/{subtype} part"
        assert body.get_content_subtype() == subtype
        return body.get_content()


@dataclass
class CollectingHandler:
    """Accepts everything except the recipients it was told to refuse."""

    messages: list[Received] = field(default_factory=list)
    # address (lower case) -> the reply to RCPT TO, e.g. "550 no such user"
    refuse: dict[str, str] = field(default_factory=dict)
    # address (lower case) -> how many more times to refuse it (then accept); absent: always
    refuse_times: dict[str, int] = field(default_factory=dict)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        key = address.lower()
        if key in self.refuse:
            left = self.refuse_times.get(key)
            if left is None or left > 0:
                if left is not None:
                    self.refuse_times[key] = left - 1
                return self.refuse[key]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        self.messages.append(
            Received(mail_from=envelope.mail_from, rcpt_tos=list(envelope.rcpt_tos), message=parsed)
        )
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Received]:
        return [m for m in self.messages if address.lower() in (r.lower() for r in m.rcpt_tos)]


class SMTPServer:
    """Starts and stops an aiosmtpd server on a fixed port (so it can "come back")."""

    def __init__(self, port: int | None = None, handler: CollectingHandler | None = None):
        self.port = port or free_port()
        self.handler = handler or CollectingHandler()
        self._controller: Controller | None = None
        self._reserved: socket.socket | None = None

    def reserve(self) -> SMTPServer:
        """Hold the port without listening: connections are refused (the server is
        "down"), and no other test process can take the port meanwhile."""
        self._reserved = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._reserved.bind(("127.0.0.1", self.port))
        return self

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages

    def start(self) -> SMTPServer:
        if self._reserved is not None:
            self._reserved.close()
            self._reserved = None
        self._controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, ready_timeout=10
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._reserved is not None:
            self._reserved.close()
            self._reserved = None
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def mailers_setting(self) -> dict:
        return {
            "default": {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {"host": "127.0.0.1", "port": self.port, "timeout": 5},
            }
        }
