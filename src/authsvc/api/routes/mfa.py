"""``/api/auth/mfa``: enrol a TOTP authenticator, complete a sign-in with a code, manage recovery
codes, turn the factor off (API.md section 7; docs/mfa.md)."""

from __future__ import annotations

from flask import Response
from flask_openapi3.blueprint import APIBlueprint
from flask_openapi3.models.tag import Tag

from authsvc.api.attempts import budgets
from authsvc.api.deps import client_info, db
from authsvc.api.errors import COMMON_RESPONSES
from authsvc.api.guard import current_identity
from authsvc.api.render import token_response
from authsvc.api.signin import tokens
from authsvc.domain import level_of
from authsvc.extensions import get_codec, get_hasher, get_mfa_keys, get_settings
from authsvc.schemas import (
    CodeIn,
    CurrentPassword,
    EnrolmentOut,
    ErrorOut,
    LoginOut,
    MfaVerifyIn,
    RecoveryCodesOut,
)
from authsvc.services import mfa

bp = APIBlueprint(
    "mfa",
    __name__,
    url_prefix="/api/auth/mfa",
    abp_tags=[Tag(name="mfa", description="The second factor: TOTP and recovery codes")],
    abp_responses={**COMMON_RESPONSES, 401: ErrorOut},
)
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]


@bp.post("/totp", responses={200: EnrolmentOut, 409: ErrorOut}, security=BEARER)
def enrol(body: CurrentPassword) -> Response:
    """Start enrolling an authenticator app: a new secret, its otpauth URI and QR code.

    Pending until `POST /api/auth/mfa/totp/confirm` sends a first code; 409 mfa_state when a second
    factor is already on. A wrong password spends the account's sign-in budget.
    """
    user = current_identity().user
    with budgets().attempt(user.username, sign_in=False):
        enrolment = mfa.begin_enrolment(
            session=db(),
            hasher=get_hasher(),
            keys=get_mfa_keys(),
            user_id=user.id,
            current_password=body.current_password,
            client=client_info(),
        )
    out = EnrolmentOut(secret=enrolment.secret, otpauth_uri=enrolment.otpauth_uri, qr_svg=enrolment.qr_svg)
    return token_response(out.model_dump())  # a secret: never cached


@bp.post("/totp/confirm", responses={200: RecoveryCodesOut, 409: ErrorOut}, security=BEARER)
def confirm(body: CodeIn) -> Response:
    """Turn the second factor on with a first code; answers ten recovery codes, shown this once."""
    user = current_identity().user
    with budgets().attempt(user.username, sign_in=False):
        codes = mfa.confirm_enrolment(
            session=db(), keys=get_mfa_keys(), user_id=user.id, code=body.code, client=client_info()
        )
    return token_response(RecoveryCodesOut(recovery_codes=codes).model_dump())


@bp.delete("/totp", responses={204: None, 403: ErrorOut, 409: ErrorOut}, security=BEARER)
def disable(body: CodeIn) -> Response:
    """Turn the second factor off with one of its codes, from a session signed in with it (aal 2)."""
    identity = current_identity()
    with budgets().attempt(identity.user.username, sign_in=False):
        mfa.disable(
            session=db(),
            keys=get_mfa_keys(),
            user_id=identity.user.id,
            code=body.code,
            aal=level_of(identity.claims).aal,
            client=client_info(),
        )
    return Response(status=204)


@bp.post("/recovery-codes", responses={200: RecoveryCodesOut, 409: ErrorOut}, security=BEARER)
def regenerate(body: CodeIn) -> Response:
    """A new set of ten recovery codes for a code of the factor; the old set stops working."""
    user = current_identity().user
    with budgets().attempt(user.username, sign_in=False):
        codes = mfa.regenerate_recovery_codes(
            session=db(), keys=get_mfa_keys(), user_id=user.id, code=body.code, client=client_info()
        )
    return token_response(RecoveryCodesOut(recovery_codes=codes).model_dump())


@bp.post("/verify", responses={200: LoginOut})
def verify(body: MfaVerifyIn) -> Response:
    """Complete a sign-in with the login's mfa_token and a code (TOTP or recovery code).

    The login answer, in cookie mode if the login asked for it. 401 invalid_code for a wrong code
    (it counts as a failed sign-in; the fifth voids the mfa_token); 401 invalid_token for an
    unknown, expired, used or voided mfa_token.
    """
    username = mfa.challenge_owner(session=db(), mfa_token=body.mfa_token)
    with budgets().attempt(username, sign_in=True):
        pair, cookie = mfa.complete_challenge(
            session=db(),
            codec=get_codec(),
            keys=get_mfa_keys(),
            mfa_token=body.mfa_token,
            code=body.code,
            max_sessions=get_settings().max_sessions_per_user,
            client=client_info(),
        )
    return tokens(pair, cookie=cookie)
