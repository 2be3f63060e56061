"""connections remember when the seller authorized them (an authorization lasts a year)

Revision ID: 8b4e6f1a2c39
Revises: 3f8d2a6c1e57
Create Date: 2026-12-01 04:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '8b4e6f1a2c39'
down_revision = '3f8d2a6c1e57'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('amazon_connections', schema=None) as batch_op:
        batch_op.add_column(sa.Column('authorized_at', sa.DateTime(), nullable=True))
    op.execute('UPDATE amazon_connections SET authorized_at = connected_at')


def downgrade():
    with op.batch_alter_table('amazon_connections', schema=None) as batch_op:
        batch_op.drop_column('authorized_at')
