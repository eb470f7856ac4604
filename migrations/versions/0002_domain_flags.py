"""domain flags: shared_prefix_cache (opt-in cross-domain KV reuse), require_encrypted_requests (HPKE only)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 08:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("domains") as batch:
        batch.add_column(
            sa.Column("shared_prefix_cache", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch.add_column(
            sa.Column("require_encrypted_requests", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("domains") as batch:
        batch.drop_column("require_encrypted_requests")
        batch.drop_column("shared_prefix_cache")
