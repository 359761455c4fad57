"""Logging helpers. Tokens are secrets: no log line may carry one."""

from __future__ import annotations

import logging
import re

# /invite/<token>, /api/v1/invites/<token>[/accept], and ?code=<token>.
_TOKEN_IN_PATH = re.compile(r"(/invites?/)(?!resend/)[^/\s?\"']{4,}", re.IGNORECASE)
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
