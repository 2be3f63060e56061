"""connections keep their health: status and when it was last checked

Revision ID: 3f8d2a6c1e57
Revises: 7a3c9e5d2b14
Create Date: 2026-12-01 03:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3f8d2a6c1e57'
down_revision = '7a3c9e5d2b14'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('amazon_connections', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('status', sa.String(length=20), nullable=False, server_default='healthy')
        )
        batch_op.add_column(sa.Column('checked_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('amazon_connections', schema=None) as batch_op:
        batch_op.drop_column('checked_at')
        batch_op.drop_column('status')
