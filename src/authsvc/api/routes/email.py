"""``/api/auth``'s email endpoints: forgot and reset the password, verify the address, change it.

Links carry their token in the fragment (``#reset=...``): the page that opens them POSTs it here,
so a mail scanner fetching the link spends nothing.
"""

from __future__ import annotations

import time

from flask import Response, request
from flask_openapi3.blueprint import APIBlueprint
from flask_openapi3.models.tag import Tag

from authsvc.api import limits
from authsvc.api.attempts import budgets
from authsvc.api.deps import client_info, db
from authsvc.api.errors import COMMON_RESPONSES
from authsvc.api.guard import current_identity
from authsvc.api.render import json_response, user_record
from authsvc.domain import level_of
from authsvc.extensions import get_codec, get_hasher, get_settings
from authsvc.mail import get_mailer
from authsvc.schemas import EmailChangeIn, ErrorOut, ForgotIn, LinkIn, MessageOut, ResendIn, ResetIn, UserOut
from authsvc.services import recovery, verification

bp = APIBlueprint(
    "email",
    __name__,
    url_prefix="/api/auth",
    abp_tags=[Tag(name="email", description="Account recovery, address verification and change")],
    abp_responses={**COMMON_RESPONSES},
)
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
FORGOT = "If that address has an account, a reset link is on its way."
RESEND = "If that address needs verifying, a new link is on its way."
EMAIL_CHANGE = "A confirmation link is on its way to the new address."
# Answers that must not tell whether an address has an account are sent no sooner than this after
# the request arrived: looking an address up, writing a token and a message, or doing nothing all
# end at the same instant, as long as the work takes less (it takes a few milliseconds).
ANSWER_FLOOR = 0.15


def _after_floor(started: float) -> None:
    time.sleep(max(0.0, started + ANSWER_FLOOR - time.monotonic()))


def _accepted(message: str) -> Response:
    return json_response(MessageOut(message=message), 202)


@bp.post("/password/forgot", responses={202: MessageOut, 429: ErrorOut})
@limits.mail
def forgot_password(body: ForgotIn) -> Response:
    """Mail a password reset link to the address, if it has an account.

    Always 202, the same answer in the same time for every address (unknown, deactivated and
    throttled ones too).
    """
    started = time.monotonic()
    settings = get_settings()
    recovery.forgot_password(
        session=db(),
        mailer=get_mailer(),
        email=body.email,
        lifetime=settings.reset_token_expires,
        allowed=budgets().mail_allowed("reset", body.email),
        client=client_info(),
    )
    _after_floor(started)
    return _accepted(FORGOT)


@bp.post("/password/reset", responses={200: MessageOut, 400: ErrorOut})
def reset_password(body: ResetIn) -> Response:
    """Set a new password with a reset link's token.

    Every session of the user is signed out. 400 invalid_link for a used, expired, voided or
    unknown token; a password the policy refuses (400 validation_error) leaves the token usable.
    """
    recovery.reset_password(
        session=db(),
        hasher=get_hasher(),
        codec=get_codec(),
        mailer=get_mailer(),
        token=body.token,
        new_password=body.new_password,
        min_score=get_settings().password_min_score,
        client=client_info(),
    )
    return json_response(MessageOut(message="Password changed"))


@bp.post("/email/verify", responses={200: UserOut, 400: ErrorOut})
def verify_email(body: LinkIn) -> Response:
    """Prove the address with a verification link's token; answers the user record, now verified."""
    user = verification.verify_email(session=db(), token=body.token, client=client_info())
    return json_response(user_record(user))


@bp.post("/email/verify/resend", responses={202: MessageOut, 429: ErrorOut}, security=[{}, *BEARER])
@limits.mail
def resend_verification(body: ResendIn) -> Response:
    """Mail a new verification link.

    For the signed-in user (access token), or for `{"email"}` without one. Always 202, in the same
    time, whether or not a link was sent.
    """
    started = time.monotonic()
    signed_in = current_identity().user if "Authorization" in request.headers else None
    user_id = signed_in.id if signed_in else None
    settings = get_settings()
    address = signed_in.email if signed_in else body.email  # one budget per address, however asked
    if settings.email_verification != "off" and (user_id is not None or body.email is not None):
        verification.resend_verification(
            session=db(),
            mailer=get_mailer(),
            lifetime=settings.verify_token_expires,
            allowed=budgets().mail_allowed("verify", address or ""),
            user_id=user_id,
            email=body.email,
            client=client_info(),
        )
    _after_floor(started)
    return _accepted(RESEND)


@bp.post("/email", responses={202: MessageOut, 401: ErrorOut, 409: ErrorOut, 429: ErrorOut}, security=BEARER)
@limits.mail
def change_email(body: EmailChangeIn) -> Response:
    """Ask to move the account to a new address.

    A confirmation link goes there, a notice to the current one; the address changes when the link
    is followed. A wrong current password spends the account's sign-in budget; the new address's
    budget of mailed links is spent silently (still 202, nothing sent), and the client's is shared
    with forgot-password (429).
    """
    identity = current_identity()
    user = identity.user
    with budgets().attempt(user.username, sign_in=False):
        verification.request_email_change(
            session=db(),
            hasher=get_hasher(),
            mailer=get_mailer(),
            user_id=user.id,
            new_email=body.new_email,
            current_password=body.current_password,
            lifetime=get_settings().verify_token_expires,
            aal=level_of(identity.claims).aal,
            allowed=budgets().mail_allowed("email_change", body.new_email),
            client=client_info(),
        )
    return _accepted(EMAIL_CHANGE)


@bp.post("/email/confirm", responses={200: UserOut, 400: ErrorOut, 409: ErrorOut})
def confirm_email(body: LinkIn) -> Response:
    """Confirm the new address with the link's token; answers the user record with it, verified."""
    user = verification.confirm_email_change(session=db(), token=body.token, client=client_info())
    return json_response(user_record(user))
