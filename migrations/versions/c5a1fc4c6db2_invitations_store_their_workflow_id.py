"""invitations store their workflow id (keyed for new ones)

Revision ID: c5a1fc4c6db2
Revises: 4d7e1a2b3c5f
Create Date: 2026-12-02 10:00:00

"""
import hashlib

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c5a1fc4c6db2'
down_revision = '4d7e1a2b3c5f'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user_invitations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('workflow_id', sa.String(length=80), nullable=True))
    # Existing rows keep the id their (maybe still running) workflow was started with: the
    # formula the app used before new ids were keyed.
    connection = op.get_bind()
    invitations = sa.table(
        'user_invitations',
        sa.column('id', sa.Integer),
        sa.column('account_id', sa.Integer),
        sa.column('email', sa.String),
        sa.column('workflow_id', sa.String),
    )
    rows = connection.execute(
        sa.select(invitations.c.id, invitations.c.account_id, invitations.c.email)
    ).all()
    for id, account_id, email in rows:
        hashed = hashlib.sha256(email.lower().encode()).hexdigest()[:16]
        connection.execute(
            invitations.update()
            .where(invitations.c.id == id)
            .values(workflow_id=f'user-invitation-{account_id}-{hashed}')
        )
    with op.batch_alter_table('user_invitations', schema=None) as batch_op:
        batch_op.alter_column('workflow_id', existing_type=sa.String(length=80), nullable=False)


def downgrade():
    with op.batch_alter_table('user_invitations', schema=None) as batch_op:
        batch_op.drop_column('workflow_id')
