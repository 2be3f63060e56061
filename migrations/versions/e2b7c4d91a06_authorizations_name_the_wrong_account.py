"""authorizations name the wrong seller account: store name and where it sells

Revision ID: e2b7c4d91a06
Revises: 4d5e6f708192
Create Date: 2026-11-30 21:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e2b7c4d91a06'
down_revision = '4d5e6f708192'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('authorizations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('store_name', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('sells_in', sa.String(length=120), nullable=True))


def downgrade():
    with op.batch_alter_table('authorizations', schema=None) as batch_op:
        batch_op.drop_column('sells_in')
        batch_op.drop_column('store_name')
