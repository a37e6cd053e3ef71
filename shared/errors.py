"""The project's exception tree; the API maps each to the contract's error body."""

from __future__ import annotations


class JobgridError(Exception):
    """Base of every error jobgrid raises on purpose."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationFailed(JobgridError):
    """Raised when a request is malformed: bad JSON, wrong types, bad ids or query values."""

    status, code = 400, "validation_error"


class Unauthorized(JobgridError):
    """Raised when the API key is missing, unknown or revoked."""

    status, code = 401, "unauthorized"


class NotFound(JobgridError):
    """Raised when no such resource exists for the caller's organization."""

    status, code = 404, "not_found"


class Conflict(JobgridError):
    """Raised when the job's state forbids the action, or an Idempotency-Key is reused."""

    status, code = 409, "conflict"


class PayloadTooLarge(JobgridError):
    """Raised when a request, document or batch is above the configured limits."""

    status, code = 413, "payload_too_large"


class Unprocessable(JobgridError):
    """Raised when a well-formed request cannot run (unknown schema_id, no fields, ...)."""

    status, code = 422, "unprocessable"


class RateLimited(JobgridError):
    """Raised when the key used up its requests in the current window."""

    status, code = 429, "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(JobgridError):
    """Raised when Redis or the broker cannot be reached."""

    status, code = 503, "unavailable"
