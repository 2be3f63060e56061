"""requests for several regions sent together share a group; drafts keep the other regions

Revision ID: f4c8d2e1a735
Revises: e2b7c4a9d613
Create Date: 2026-12-01 06:05:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f4c8d2e1a735'
down_revision = 'e2b7c4a9d613'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('connection_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('group_id', sa.String(length=32), nullable=True))
        batch_op.create_index(
            batch_op.f('ix_connection_requests_group_id'), ['group_id'], unique=False
        )
    with op.batch_alter_table('request_drafts', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('also', sa.String(length=64), nullable=False, server_default='')
        )


def downgrade():
    with op.batch_alter_table('request_drafts', schema=None) as batch_op:
        batch_op.drop_column('also')
    with op.batch_alter_table('connection_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_connection_requests_group_id'))
        batch_op.drop_column('group_id')
