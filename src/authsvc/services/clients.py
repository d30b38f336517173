"""Service clients: the other services that may introspect tokens (``flask clients ...``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from hmac import compare_digest

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from authsvc.audit import NO_CLIENT, ClientInfo, record
from authsvc.exceptions import ClientNameTaken, InvalidClient, NotFound
from authsvc.models import ServiceClient
from authsvc.security import client_secret_hash, new_client_credentials

NAME_MAX = 64
NAME_RULE = f"1 to {NAME_MAX} lower-case letters, digits and . _ -, starting with a letter or digit"
_NAME_RE = re.compile(rf"[a-z0-9][a-z0-9._-]{{0,{NAME_MAX - 1}}}", re.ASCII)
# What we mint is token_urlsafe: anything else names no client and is never sent to the database
# (a NUL, which PostgreSQL refuses in text, or a megabyte of header).
_CREDENTIAL_RE = re.compile(r"[A-Za-z0-9_-]{1,64}", re.ASCII)
OPERATOR = "operator"
# Compared against when the client id is unknown, so that case costs what a wrong secret costs.
_DUMMY_HASH = client_secret_hash(new_client_credentials()[1])


@dataclass(frozen=True, slots=True)
class NewClient:
    """A client just made, with the one copy of its secret there will ever be."""

    name: str
    client_id: str
    client_secret: str


def valid_name(name: str) -> bool:
    return _NAME_RE.fullmatch(name) is not None


def create(*, session: Session, name: str) -> NewClient:
    """Register a service client; the secret is returned here once and stored only as a hash.

    The unique index decides a race between two operators choosing one name.
    """
    if not valid_name(name):
        raise ValueError(f"a client name is {NAME_RULE}")
    if session.exec(select(ServiceClient.id).where(ServiceClient.name == name)).first() is not None:
        raise ClientNameTaken(f"A service client named {name!r} already exists.")
    client_id, secret = new_client_credentials()
    session.add(ServiceClient(name=name, client_id=client_id, secret_hash=client_secret_hash(secret)))
    try:
        session.flush()
        record(
            session,
            "client_created",
            outcome="success",
            actor=OPERATOR,
            client_name=name,
            client_id=client_id,
        )
        session.commit()
    except IntegrityError:
        session.rollback()
        raise ClientNameTaken(f"A service client named {name!r} already exists.") from None
    return NewClient(name=name, client_id=client_id, client_secret=secret)


def list_clients(*, session: Session) -> Sequence[ServiceClient]:
    """Every service client, by name."""
    return session.exec(select(ServiceClient).order_by(col(ServiceClient.name))).all()


def delete(*, session: Session, name: str) -> ServiceClient:
    """Remove a client: its very next introspection call is refused (nothing caches clients)."""
    row = session.exec(select(ServiceClient).where(ServiceClient.name == name)).first()
    if row is None:
        raise NotFound(f"No service client named {name!r}.")
    session.delete(row)
    record(
        session,
        "client_deleted",
        outcome="success",
        actor=OPERATOR,
        client_name=name,
        client_id=row.client_id,
    )
    session.commit()
    return row


def authenticate(
    *, session: Session, client_id: str, client_secret: str, client: ClientInfo = NO_CLIENT
) -> ServiceClient:
    """The client these credentials belong to, or ``InvalidClient``, whose event is the only thing
    written (and committed).

    An unknown id and a wrong secret cost the same (one indexed lookup, one SHA-256, one
    constant-time comparison, against a dummy hash when there is no row) and fail alike, so neither
    the answer nor its timing tells which client ids exist or how much of a secret was right.
    """
    row = None
    if _CREDENTIAL_RE.fullmatch(client_id):
        row = session.exec(select(ServiceClient).where(ServiceClient.client_id == client_id)).first()
    presented = client_secret_hash(client_secret)
    matches = compare_digest(presented, row.secret_hash if row is not None else _DUMMY_HASH)
    if row is None or not matches:
        # Never the id presented: it is the caller's text, and a secret pasted in the wrong field.
        name = row.name if row is not None else None
        session.rollback()
        record(session, "client_auth", outcome="failure", client=client, client_name=name)
        session.commit()
        raise InvalidClient()
    return row
