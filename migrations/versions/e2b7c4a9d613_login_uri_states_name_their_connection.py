"""a consent begun at Amazon (the Log-in URI) names the connection it renews

Revision ID: e2b7c4a9d613
Revises: c5a1e9d3b207
Create Date: 2026-12-01 05:55:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e2b7c4a9d613'
down_revision = 'c5a1e9d3b207'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('oauth_states', schema=None) as batch_op:
        batch_op.add_column(sa.Column('connection_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            'fk_oauth_states_connection_id', 'amazon_connections', ['connection_id'], ['id'],
            ondelete='SET NULL',
        )


def downgrade():
    with op.batch_alter_table('oauth_states', schema=None) as batch_op:
        batch_op.drop_constraint('fk_oauth_states_connection_id', type_='foreignkey')
        batch_op.drop_column('connection_id')
