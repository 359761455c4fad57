"""One family of business errors with stable codes.

Services raise :class:`ApplicationError`; interfaces never invent error shapes. The API
maps each error to an HTTP status and the body ``{"errors": [{"code", "message", ...}]}``;
pages show the message next to the form.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext

# The HTTP status for each stable code. Codes missing here answer 400.
STATUS_BY_CODE: dict[str, int] = {
    "not_authenticated": 401,
    "permission_denied": 403,
    "not_found": 404,
    "conflict": 409,
    "email_taken": 409,
    "name_taken": 409,
    "smart_group_membership": 409,
    "validation_error": 422,
    "invalid": 422,
    "invalid_rule": 422,
    "groups_required": 422,
    "rate_limited": 429,
    "invalid_email": 422,
    "invalid_password": 422,
    "unknown_locale": 422,
    "token_mistyped": 422,
    "token_not_found": 404,
    "invitation_already_accepted": 409,
    "invitation_pending": 409,
    "email_registered": 409,
    "email_already_invited": 409,
    "invitation_expired": 410,
    "ids_or_filter_required": 422,
    "empty_filter": 422,
    "unknown_status": 422,
}


class ApplicationError(Exception):
    """A business failure: a stable ``code``, a human ``message`` and details.

    ``details`` are extra keys of the error object (``row``, ``value``, ``field``...).
    Several problems found at once travel together in ``errors``.
    """

    def __init__(self, code: str, message: str, *, status: int | None = None, **details: Any):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
        self.status = status or STATUS_BY_CODE.get(code, 400)
        self.errors: list[dict[str, Any]] = [self.as_dict()]

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": str(self.message), **self.details}

    @classmethod
    def many(cls, errors: list[dict[str, Any]], *, status: int = 422) -> ApplicationError:
        """One error carrying several problems (each a dict with code and message)."""
        first = errors[0]
        error = cls(first["code"], first["message"], status=status)
        error.errors = errors
        return error


class NotFound(ApplicationError):
    def __init__(self, message: str | None = None, **details: Any):
        # The default is translated when raised, in the language of the request.
        super().__init__("not_found", message or gettext("Not found."), **details)


class PermissionDenied(ApplicationError):
    def __init__(self, message: str | None = None, **details: Any):
        super().__init__(
            "permission_denied",
            message or gettext("You do not have permission to do this."),
            **details,
        )


class RateLimited(ApplicationError):
    def __init__(self, message: str, *, retry_after: int, **details: Any):
        super().__init__("rate_limited", message, retry_after=retry_after, **details)
        self.retry_after = retry_after
