"""Domain errors: a stable machine code, a human message, an HTTP status and the field."""

from __future__ import annotations

from typing import Any


class TonariError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        code: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        if self.details:
            body["details"] = self.details
        return body


class NotFound(TonariError):
    status_code = 404
    code = "not_found"


class Conflict(TonariError):
    status_code = 409
    code = "conflict"


class ValidationFailed(TonariError):
    status_code = 422
    code = "validation_failed"


class InsufficientPoints(TonariError):
    status_code = 422
    code = "insufficient_points"


class Unauthorized(TonariError):
    status_code = 401
    code = "unauthorized"


class Forbidden(TonariError):
    status_code = 403
    code = "forbidden"


class InvalidState(TonariError):
    status_code = 409
    code = "invalid_state"
