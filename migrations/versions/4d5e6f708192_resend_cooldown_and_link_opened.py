"""requests and invitations remember their last resend; links remember being opened

Revision ID: 4d5e6f708192
Revises: c5a1fc4c6db2
Create Date: 2026-12-02 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '4d5e6f708192'
down_revision = 'c5a1fc4c6db2'
branch_labels = None
depends_on = None


def upgrade():
    for table in ('connection_requests', 'user_invitations'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('last_sent_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('connection_links', schema=None) as batch_op:
        batch_op.add_column(sa.Column('opened_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('connection_links', schema=None) as batch_op:
        batch_op.drop_column('opened_at')
    for table in ('user_invitations', 'connection_requests'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('last_sent_at')
