"""Service clients: the callers of token introspection, each with a hashed secret.

Revision ID: 0006
Revises: 0004 (the signing keys' 0005 is slotted in between when both branches meet)
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "service_client",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("secret_hash", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_index("ix_service_client_client_id", "service_client", ["client_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_service_client_client_id", table_name="service_client")
    op.drop_table("service_client")
