"""alert severity, explanation and the bucket an episode resolved on; feed outage buckets

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("severity", sa.String(length=16), nullable=False, server_default="minor")
        )
        batch_op.add_column(sa.Column("explanation", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("resolved_bucket", sa.DateTime(), nullable=True))
    op.create_table(
        "feed_outages",
        sa.Column("feed_id", sa.Integer(), nullable=False),
        sa.Column("bucket_start", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["feed_id"], ["feeds.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("feed_id", "bucket_start"),
    )


def downgrade() -> None:
    op.drop_table("feed_outages")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_column("resolved_bucket")
        batch_op.drop_column("explanation")
        batch_op.drop_column("severity")
