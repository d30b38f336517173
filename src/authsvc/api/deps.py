"""What routes need from the request: its database session and who is calling.

The app-wide settings, codec and hasher live in ``authsvc.extensions``.
"""

from __future__ import annotations

from flask import request
from sqlmodel import Session

from authsvc.audit import ClientInfo
from authsvc.db import get_session


def db() -> Session:
    return get_session()


def client_info() -> ClientInfo:
    """The caller's address and user agent, for session records and audit lines."""
    return ClientInfo(ip=request.remote_addr, user_agent=request.headers.get("User-Agent"))
