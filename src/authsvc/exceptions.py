"""Domain exceptions: what went wrong, in the service's words. The api layer maps them to HTTP."""


class AuthError(Exception):
    """Base of every domain error; ``code`` is the stable machine-readable name."""

    code = "error"
    detail = "Request failed."

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or self.detail)
        self.detail = detail or self.detail


class InvalidCredentials(AuthError):
    code = "invalid_credentials"
    detail = "Invalid username or password."


class TokenMissing(AuthError):
    code = "missing_token"
    detail = "Missing Authorization header."


class TokenInvalid(AuthError):
    code = "invalid_token"
    detail = "Token is invalid or expired."


class Forbidden(AuthError):
    code = "forbidden"
    detail = "You do not have permission to do this."


class NotFound(AuthError):
    code = "not_found"
    detail = "Not found."


class RegistrationClosed(AuthError):
    """Self-service sign-up is off (``FLASK_REGISTRATION=closed``); admins still create accounts."""

    code = "registration_closed"
    detail = "Registration is closed: ask an administrator for an account."


class UsernameTaken(AuthError):
    code = "username_taken"
    detail = "That username is already taken."


class EmailTaken(AuthError):
    code = "email_taken"
    detail = "That email is already registered."


class LastAdmin(AuthError):
    code = "last_admin"
    detail = "The last active admin cannot be removed."


class RateLimitUnavailable(AuthError):
    """The shared throttling storage cannot be reached and the deployment chose to fail closed."""

    code = "rate_limit_unavailable"
    detail = "Throttling is unavailable; try again shortly."


class InvalidInput(AuthError):
    """A well-formed value a rule refuses; carries the field so the error can name it (400)."""

    code = "validation_error"
    detail = "Invalid value."

    def __init__(self, detail: str | None = None, *, field: str) -> None:
        super().__init__(detail)
        self.field = field


class WeakPassword(InvalidInput):
    detail = "Password is too weak."

    def __init__(self, detail: str | None = None, *, field: str = "password") -> None:
        super().__init__(detail, field=field)


class InvalidClient(AuthError):
    """A service client's HTTP Basic credentials are missing, malformed, unknown or wrong: one answer
    for all, so a caller cannot tell a client id that exists from one that does not."""

    code = "invalid_client"
    detail = "Client authentication failed."


class ClientNameTaken(AuthError):
    code = "client_name_taken"
    detail = "A service client of that name already exists."


class InvalidLink(AuthError):
    """A one-time link's token is used, expired, voided, unknown or for another purpose: one answer
    for all, so a guesser learns nothing about which tokens exist."""

    code = "invalid_link"
    detail = "This link is invalid or has expired."


class EmailNotVerified(AuthError):
    """``FLASK_EMAIL_VERIFICATION=required`` and the address was never proven; said only after the
    password was right, so it reveals nothing to someone without it."""

    code = "email_not_verified"
    detail = "Verify your email address first: follow the link we sent, or ask for a new one."
