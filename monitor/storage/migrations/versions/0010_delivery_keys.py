"""room in deliveries.event for re-alert keys (escalate:critical, surge:COUNT)

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.alter_column(
            "event", existing_type=sa.String(16), type_=sa.String(40), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.alter_column(
            "event", existing_type=sa.String(40), type_=sa.String(16), existing_nullable=False
        )
