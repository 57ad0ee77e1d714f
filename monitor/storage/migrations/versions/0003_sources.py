"""sources: engagement, repost-of and raw payload on posts; auth state and metering on
feeds; source alerts (kind "source", per feed); video statistics per poll

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 08:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("likes", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reposts", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("replies", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("repost_of", sa.String(length=512), nullable=True))
        batch_op.add_column(sa.Column("raw", sa.JSON(), nullable=True))
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("auth_state", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("metered_units", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("rate_limit", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("last_post_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.alter_column("topic_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("feed_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reason", sa.Text(), nullable=True))
        batch_op.create_foreign_key(
            "fk_alerts_feed_id", "feeds", ["feed_id"], ["id"], ondelete="CASCADE"
        )
    op.create_table(
        "video_stats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feed_id", sa.Integer(), nullable=False),
        sa.Column("video_id", sa.String(length=64), nullable=False),
        sa.Column("polled_at", sa.DateTime(), nullable=False),
        sa.Column("view_count", sa.BigInteger(), nullable=True),
        sa.Column("like_count", sa.BigInteger(), nullable=True),
        sa.Column("comment_count", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["feed_id"], ["feeds.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("feed_id", "polled_at", name="uq_video_stats_poll"),
    )


def downgrade() -> None:
    op.drop_table("video_stats")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_constraint("fk_alerts_feed_id", type_="foreignkey")
        batch_op.drop_column("reason")
        batch_op.drop_column("feed_id")
        batch_op.alter_column("topic_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.drop_column("last_post_at")
        batch_op.drop_column("rate_limit")
        batch_op.drop_column("metered_units")
        batch_op.drop_column("auth_state")
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_column("raw")
        batch_op.drop_column("repost_of")
        batch_op.drop_column("replies")
        batch_op.drop_column("reposts")
        batch_op.drop_column("likes")
