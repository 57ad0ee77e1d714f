"""sentiment methods: how each mention was scored, and per-bucket counts by method

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 08:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mentions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("method", sa.String(length=16), nullable=True))
    with op.batch_alter_table("timeline_buckets", schema=None) as batch_op:
        for column in ("scored_vader", "scored_fandom", "scored_emoji"):
            batch_op.add_column(sa.Column(column, sa.Integer(), nullable=False, server_default="0"))
    # Everything scored before this revision was scored by stock VADER.
    op.execute("UPDATE mentions SET method = 'vader' WHERE compound IS NOT NULL")
    op.execute("UPDATE mentions SET method = 'unscored' WHERE compound IS NULL")
    op.execute("UPDATE timeline_buckets SET scored_vader = scored")


def downgrade() -> None:
    with op.batch_alter_table("timeline_buckets", schema=None) as batch_op:
        for column in ("scored_emoji", "scored_fandom", "scored_vader"):
            batch_op.drop_column(column)
    with op.batch_alter_table("mentions", schema=None) as batch_op:
        batch_op.drop_column("method")
