"""requests say what they are for (connect or renew); connections list the marketplaces they cover

Revision ID: c5a1e9d3b207
Revises: 8b4e6f1a2c39
Create Date: 2026-12-01 05:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c5a1e9d3b207'
down_revision = '8b4e6f1a2c39'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('connection_requests', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('purpose', sa.String(length=16), nullable=False, server_default='connect')
        )
    with op.batch_alter_table('amazon_connections', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('covers', sa.String(length=120), nullable=False, server_default='')
        )


def downgrade():
    with op.batch_alter_table('amazon_connections', schema=None) as batch_op:
        batch_op.drop_column('covers')
    with op.batch_alter_table('connection_requests', schema=None) as batch_op:
        batch_op.drop_column('purpose')
