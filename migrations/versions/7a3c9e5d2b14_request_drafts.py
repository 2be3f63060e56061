"""request drafts: the previewed request, kept server-side between the form and Send

Revision ID: 7a3c9e5d2b14
Revises: e2b7c4d91a06
Create Date: 2026-11-30 22:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7a3c9e5d2b14'
down_revision = 'e2b7c4d91a06'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'request_drafts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('public_id', sa.String(length=32), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('marketplace', sa.String(length=2), nullable=False),
        sa.Column('client_name', sa.String(length=120), nullable=False),
        sa.Column('client_email', sa.String(length=254), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('request_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['client_accounts.id']),
        sa.ForeignKeyConstraint(['request_id'], ['connection_requests.id']),
        sa.ForeignKeyConstraint(['user_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('public_id'),
    )
    with op.batch_alter_table('request_drafts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_request_drafts_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('request_drafts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_request_drafts_user_id'))
    op.drop_table('request_drafts')
