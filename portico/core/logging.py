"""Logging helpers. Tokens are secrets: no log line may carry one."""

from __future__ import annotations

import logging
import re

# /invite/<token> and /api/v1/invites/<token>[/accept]: the whole path segment, spaces
# included (Django's request warnings name the path as typed: "/invite/7KQ2 M9XD/"). It
# ends at "/", "?", a quote, " HTTP/" (a request line) or the end of the line;
# /invite/resend/ and a bare /invite/ are pages, not tokens.
_TOKEN_IN_PATH = re.compile(
    r"(/invites?/)(?!resend(?:[/?\"'\s]|$))(?:(?! HTTP/)[^/?\"'\r\n])+",
    re.IGNORECASE | re.MULTILINE,
)
# ?code=<token> and ?token=<token>.
_TOKEN_IN_QUERY = re.compile(r"([?&](?:code|token)=)[^&\s\"']+", re.IGNORECASE)


def mask_tokens(text: str) -> str:
    text = _TOKEN_IN_PATH.sub(r"\1[token]", text)
    return _TOKEN_IN_QUERY.sub(r"\1[token]", text)


class MaskTokensFilter(logging.Filter):
    """Rewrites a record's message with invitation tokens masked (the web server's
    access log and Django's request warnings both name the path)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_tokens(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True
