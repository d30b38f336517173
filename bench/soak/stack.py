"""What the soak runs against: a database of its own on PostgreSQL, a Redis database of its own, the
wires in front of both, and gunicorn with the production config (bench.servers.Server)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import redis
from sqlalchemy import create_engine

from authsvc import migrate
from authsvc.security import PasswordHasher
from bench import seed
from bench.servers import Server
from bench.soak.wires import Wires

POSTGRES = os.environ.get("SOAK_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
DATABASE = "authsvc_soak"  # dropped and made afresh by every soak: never the tests' database
REDIS = os.environ.get("SOAK_REDIS", "redis://127.0.0.1:6379")
REDIS_DB = 5  # the tests use 0, 1 and 2
BCRYPT_ROUNDS = 4  # the soak is about state, not hashing: see docs/reliability.md
APPLICATION = "authsvc-soak"  # the server's connections, as pg_terminate_backend finds them
# Random-looking, as production requires; made here and never printed.
SECRETS = {"FLASK_JWT_SECRET_KEY": secrets.token_urlsafe(32), "FLASK_SECRET_KEY": secrets.token_urlsafe(32)}


LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def targets() -> tuple[str, str]:
    """``host:port`` of PostgreSQL and of Redis, which must be on this machine: the soak never sends
    traffic beyond loopback."""
    found = []
    for url, default in ((POSTGRES, 5432), (REDIS, 6379)):
        parts = urlsplit(url)
        if parts.hostname not in LOOPBACK:
            raise SystemExit(f"soak: {parts.hostname} is not loopback; the soak runs on 127.0.0.1 only")
        found.append(f"{parts.hostname}:{parts.port or default}")
    return found[0], found[1]


def direct_url(database: str = DATABASE) -> str:
    """The soak's own view of PostgreSQL, beside the wire (it must see the database during an outage)."""
    return POSTGRES.rsplit("/", 1)[0] + "/" + database


def fresh_database(admin_password: str) -> str:
    """A new database, migrated, holding one admin (seeded straight into the table, as the benchmark
    seeds its users: a ``flask create-user`` process would cost the CI soak seconds). Its name."""
    with psycopg.connect(POSTGRES, autocommit=True, connect_timeout=5) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DATABASE}")
    engine = create_engine(direct_url().replace("postgresql://", "postgresql+psycopg://", 1))
    migrate.upgrade(engine)
    seed.users_up_to(engine, 1, password_hash=PasswordHasher(BCRYPT_ROUNDS).hash(admin_password))
    seed.make_admin(engine, "user1")
    engine.dispose()
    return "user1"


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(f"{REDIS}/{REDIS_DB}", socket_timeout=5)


@dataclass(frozen=True)
class Limits:
    """Throttling high enough that the load is not refused, low enough to be real counts in Redis."""

    register: str = "100000/hour"
    refresh: str = "100000/minute"
    login_success: str = "1000/minute;50000/hour"


def server_env(wires: Wires, work: Path, *, access: int, refresh: int, reuse: int) -> dict[str, str]:
    host = POSTGRES.split("@", 1)[0]  # postgresql://user
    limits = Limits()
    return {
        **SECRETS,
        "FLASK_ENVIRONMENT": "production",
        "FLASK_DATABASE_URL": (
            f"{host.replace('postgresql', 'postgresql+psycopg', 1)}@127.0.0.1:{wires.ports['postgres']}"
            f"/{DATABASE}?application_name={APPLICATION}"
        ),
        "FLASK_RATELIMIT_STORAGE_URI": f"redis://127.0.0.1:{wires.ports['redis']}/{REDIS_DB}",
        "FLASK_RATELIMIT_REGISTER": limits.register,
        "FLASK_RATELIMIT_REFRESH": limits.refresh,
        "FLASK_RATELIMIT_LOGIN_SUCCESS": limits.login_success,
        "FLASK_JWT_ACCESS_TOKEN_EXPIRES": str(access),
        "FLASK_JWT_REFRESH_TOKEN_EXPIRES": str(refresh),
        "FLASK_JWT_REFRESH_REUSE_INTERVAL": str(reuse),
        "FLASK_BCRYPT_ROUNDS": str(BCRYPT_ROUNDS),
        "FLASK_EMAIL_VERIFICATION": "off",
        "FLASK_INSTANCE_PATH": str(work / "instance"),
    }


def flask(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """An operator command against the server's database, through the same wire."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_")}
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "authsvc:create_app", *args],
        env={**clean, **env}, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def start_server(env: dict[str, str], work: Path, workers: int) -> Server:
    for key in [key for key in os.environ if key.startswith("FLASK_")]:
        del os.environ[key]  # the server gets the soak's settings, none of the caller's
    return Server(
        "authsvc:create_app()", env=env, log=work / "gunicorn.log", workers=workers, production=True
    )
