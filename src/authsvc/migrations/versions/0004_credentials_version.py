"""A per-user credentials version, stamped on every session and token.

A password change, a reset or a deactivation bumps it; a session (and every token of it) minted
under an older version is dead, whatever order a racing sign-in committed in.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD/DROP COLUMN (SQLite has both): a batch copy of "user" would drop its counter triggers.
    for table in ("user", "auth_session"):
        op.add_column(
            table, sa.Column("credentials_version", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    for table in ("auth_session", "user"):
        op.drop_column(table, "credentials_version")
