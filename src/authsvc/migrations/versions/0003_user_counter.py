"""A trigger-maintained count of users, so the admin listing's total costs one row read.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_TRIGGERS = [
    """CREATE TRIGGER user_counter_insert AFTER INSERT ON "user"
       BEGIN UPDATE user_counter SET total = total + 1 WHERE id = 1; END""",
    """CREATE TRIGGER user_counter_delete AFTER DELETE ON "user"
       BEGIN UPDATE user_counter SET total = total - 1 WHERE id = 1; END""",
]
POSTGRES_TRIGGERS = [
    """CREATE OR REPLACE FUNCTION authsvc_user_counter() RETURNS trigger AS $$
       BEGIN
         IF TG_OP = 'INSERT' THEN
           UPDATE user_counter SET total = total + 1 WHERE id = 1;
         ELSE
           UPDATE user_counter SET total = total - 1 WHERE id = 1;
         END IF;
         RETURN NULL;
       END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER user_counter_change AFTER INSERT OR DELETE ON "user"
       FOR EACH ROW EXECUTE FUNCTION authsvc_user_counter()""",
]


def upgrade() -> None:
    op.create_table(
        "user_counter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute('INSERT INTO user_counter (id, total) SELECT 1, count(*) FROM "user"')
    dialect = op.get_bind().dialect.name
    for statement in SQLITE_TRIGGERS if dialect == "sqlite" else POSTGRES_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS user_counter_insert")
        op.execute("DROP TRIGGER IF EXISTS user_counter_delete")
    else:
        op.execute('DROP TRIGGER IF EXISTS user_counter_change ON "user"')
        op.execute("DROP FUNCTION IF EXISTS authsvc_user_counter()")
    op.drop_table("user_counter")
