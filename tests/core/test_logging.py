"""Tokens never reach the logs: the access log and request warnings are masked."""

from __future__ import annotations

import io
import logging

import pytest

from portico.core.logging import MaskTokensFilter, mask_tokens


@pytest.mark.parametrize(
    ("line", "masked"),
    [
        ('"GET /invite/7KQ2-M9XD-4HTB-RW/ HTTP/1.1" 200', '"GET /invite/[token]/ HTTP/1.1" 200'),
        ("POST /api/v1/invites/7kq2m9xd4htbrw/accept", "POST /api/v1/invites/[token]/accept"),
        ("GET /invite/?code=7KQ2M9XD4HTBRW HTTP/1.1", "GET /invite/?code=[token] HTTP/1.1"),
        ("POST /invite/resend/ HTTP/1.1", "POST /invite/resend/ HTTP/1.1"),
        ("GET /invite/ HTTP/1.1", "GET /invite/ HTTP/1.1"),
    ],
)
def test_it_masks_tokens_in_paths_and_queries(line, masked):
    assert mask_tokens(line) == masked


@pytest.mark.parametrize(
    ("line", "masked"),
    [
        # Django's request warning names the path as typed, spaces and all.
        ("Not Found: /invite/7KQ2 M9XD 4HTB RW/", "Not Found: /invite/[token]/"),
        ("Not Found: /invite/7KQ2 M9XD 4HTB RW", "Not Found: /invite/[token]"),
        (
            "Not Found: /api/v1/invites/7KQ2 m9xd/accept",
            "Not Found: /api/v1/invites/[token]/accept",
        ),
        # The web server's complaint about a request line with spaces in it.
        (
            "code 400, message Bad request syntax ('GET /invite/7KQ2 M9XD 4HTB RW HTTP/1.1')",
            "code 400, message Bad request syntax ('GET /invite/[token] HTTP/1.1')",
        ),
        ('"GET /invite/7KQ2 M9XD/ HTTP/1.1" 400 0', '"GET /invite/[token]/ HTTP/1.1" 400 0'),
        ('"GET /invite/7KQ2 M9XD?x=1 HTTP/1.1" 404', '"GET /invite/[token]?x=1 HTTP/1.1" 404'),
        ("Not Found: /invite/7KQ\nnext line", "Not Found: /invite/[token]\nnext line"),
        # A short or partial token is a token all the same.
        ("Not Found: /invite/7KQ/", "Not Found: /invite/[token]/"),
        # The resend page and the code form are not tokens.
        ("Forbidden: /invite/resend/", "Forbidden: /invite/resend/"),
        ("Forbidden: /invite/resend", "Forbidden: /invite/resend"),
        ('"POST /invite/resend HTTP/1.1" 403', '"POST /invite/resend HTTP/1.1" 403'),
        ("Not Found: /invite/", "Not Found: /invite/"),
        ('"GET /invite/?code= HTTP/1.1" 200', '"GET /invite/?code= HTTP/1.1" 200'),
        ("Bad Request: /api/v1/invites/", "Bad Request: /api/v1/invites/"),
        # Paths that only look alike keep their segment.
        ("GET /invitations/imports/3/ HTTP/1.1", "GET /invitations/imports/3/ HTTP/1.1"),
        ("GET /api/v1/invitations/7 HTTP/1.1", "GET /api/v1/invitations/7 HTTP/1.1"),
    ],
)
def test_it_masks_the_whole_path_segment_after_invite(line, masked):
    assert mask_tokens(line) == masked


def test_the_filter_rewrites_formatted_records():
    record = logging.LogRecord(
        "django.request",
        logging.WARNING,
        __file__,
        1,
        "Not Found: %s",
        ("/invite/7KQ2M9XD4HTBRW/",),
        None,
    )

    assert MaskTokensFilter().filter(record) is True
    assert record.getMessage() == "Not Found: /invite/[token]/"


def test_the_filter_masks_a_token_typed_with_spaces_in_a_request_warning():
    record = logging.LogRecord(
        "django.request",
        logging.WARNING,
        __file__,
        1,
        "Not Found: %s",
        ("/invite/7KQ2 M9XD 4HTB RW/",),
        None,
    )

    MaskTokensFilter().filter(record)

    assert record.getMessage() == "Not Found: /invite/[token]/"


def _console_handlers(name: str) -> list[logging.StreamHandler]:
    # The test runner adds capture handlers of its own; ours write to the console.
    return [h for h in logging.getLogger(name).handlers if type(h) is logging.StreamHandler]


def test_the_web_servers_and_djangos_loggers_use_the_filter():
    for name in ("django.server", "django", ""):
        handlers = _console_handlers(name)
        assert handlers, name
        for handler in handlers:
            assert any(isinstance(f, MaskTokensFilter) for f in handler.filters), name


def test_a_request_for_an_unknown_token_logs_no_token(client, db):
    token = "7KQ2M9XD4HTBRW"
    (handler,) = _console_handlers("django")
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        client.get(f"/invite/{token}/")
    finally:
        handler.setStream(previous)

    logged = stream.getvalue()
    assert "/invite/[token]/" in logged
    assert token not in logged
