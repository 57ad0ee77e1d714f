"""hourly timeline rollup (timeline_hourly), backfilled from the stored buckets

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

COUNTERS = (
    "count",
    "sentiment_sum",
    "scored",
    "positive",
    "neutral",
    "negative",
    "scored_vader",
    "scored_fandom",
    "scored_emoji",
)


def upgrade() -> None:
    op.create_table(
        "timeline_hourly",
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.Column("bucket_start", sa.DateTime(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("sentiment_sum", sa.Float(), nullable=False),
        sa.Column("scored", sa.Integer(), nullable=False),
        sa.Column("positive", sa.Integer(), nullable=False),
        sa.Column("neutral", sa.Integer(), nullable=False),
        sa.Column("negative", sa.Integer(), nullable=False),
        sa.Column("scored_vader", sa.Integer(), nullable=False),
        sa.Column("scored_fandom", sa.Integer(), nullable=False),
        sa.Column("scored_emoji", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["topic_id"], ["topics.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("topic_id", "bucket_start"),
    )
    # The hour of a stored bucket, written as each dialect stores DateTime (SQLite keeps the
    # text SQLAlchemy writes, with microseconds), so the backfilled keys equal the ones the
    # write path inserts.
    if op.get_bind().dialect.name == "sqlite":
        hour = "strftime('%Y-%m-%d %H:00:00.000000', bucket_start)"
    else:
        hour = "date_trunc('hour', bucket_start)"
    columns = ", ".join(COUNTERS)
    sums = ", ".join(f"SUM({name})" for name in COUNTERS)
    op.execute(
        f"INSERT INTO timeline_hourly (topic_id, bucket_start, {columns}) "
        f"SELECT topic_id, {hour}, {sums} FROM timeline_buckets GROUP BY topic_id, {hour}"
    )


def downgrade() -> None:
    op.drop_table("timeline_hourly")
