"""What routes need from the app: the request's database session and the security primitives."""

from __future__ import annotations

from flask import Flask, current_app, request
from sqlmodel import Session

from authsvc.audit import ClientInfo
from authsvc.config import Settings
from authsvc.db import get_session
from authsvc.security import PasswordHasher, TokenCodec

HASHER = "authsvc.hasher"
CODEC = "authsvc.codec"
SETTINGS = "authsvc.settings"


def init_app(app: Flask, settings: Settings) -> None:
    app.extensions[SETTINGS] = settings
    app.extensions[HASHER] = PasswordHasher(settings.bcrypt_rounds)
    app.extensions[CODEC] = TokenCodec.from_settings(settings)


def db() -> Session:
    return get_session()


def hasher() -> PasswordHasher:
    return current_app.extensions[HASHER]


def codec() -> TokenCodec:
    return current_app.extensions[CODEC]


def settings() -> Settings:
    return current_app.extensions[SETTINGS]


def client_info() -> ClientInfo:
    """The caller's address and user agent, for session records and audit lines."""
    return ClientInfo(ip=request.remote_addr, user_agent=request.headers.get("User-Agent"))
