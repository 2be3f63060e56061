"""consents remember the emailed link they began from

Revision ID: 9c1d2e3f4a5b
Revises: 3b08876fef2d
Create Date: 2026-11-30 16:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9c1d2e3f4a5b'
down_revision = '3b08876fef2d'
branch_labels = None
depends_on = None


def upgrade():
    for table in ('oauth_states', 'authorizations'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('link_id', sa.Integer(), nullable=True))
            batch_op.create_foreign_key(
                f'fk_{table}_link_id', 'connection_links', ['link_id'], ['id']
            )


def downgrade():
    for table in ('authorizations', 'oauth_states'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f'fk_{table}_link_id', type_='foreignkey')
            batch_op.drop_column('link_id')
