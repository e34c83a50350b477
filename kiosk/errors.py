"""Every error the kiosk raises on purpose, each with the HTTP answer it maps to.

Handlers raise these; ``kiosk.middleware`` turns them into responses in one
place, and the CLI turns them into exit codes. Messages are meant for people:
they say what is wrong and, where possible, what to do.
"""

from __future__ import annotations


class KioskError(Exception):
    """Base of the kiosk's own errors."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class ConfigError(KioskError):
    """A setting has a bad value; ``key`` names it."""

    code = "config_error"

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"setting '{key}': {problem}")
        self.key = key


class StartupError(KioskError):
    """The kiosk cannot start (port taken, bundle invalid, ...)."""

    code = "startup_error"


class BadRequest(KioskError):
    status = 400
    code = "bad_request"


class Unauthorized(KioskError):
    status = 401
    code = "unauthorized"


class Forbidden(KioskError):
    status = 403
    code = "forbidden"


class NotFound(KioskError):
    status = 404
    code = "not_found"


class Conflict(KioskError):
    status = 409
    code = "conflict"


class PayloadTooLarge(KioskError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(KioskError):
    status = 415
    code = "unsupported_media_type"


class Unprocessable(KioskError):
    status = 422
    code = "invalid_notebook"


class TooManyRequests(KioskError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, retry_after))})
        self.retry_after = retry_after


class UpstreamError(KioskError):
    status = 502
    code = "upstream_error"


class GatewayTimeout(KioskError):
    status = 504
    code = "upstream_timeout"


class InsufficientStorage(KioskError):
    status = 507
    code = "insufficient_storage"


class BundleError(KioskError):
    """A bundle is missing, incomplete or fails verification."""

    status = 503
    code = "bundle_invalid"


class UsbError(KioskError):
    """A USB stick cannot be made or fails its check (``kiosk usb``)."""

    code = "usb_error"
