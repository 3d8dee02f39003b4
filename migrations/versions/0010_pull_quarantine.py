"""provider resources a pull set aside

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sync_quarantine",
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("provider_name", sa.String(length=255), nullable=False),
        sa.Column("resource_type", sa.String(length=40), nullable=False),
        sa.Column("remote_id", sa.String(length=128), nullable=False),
        sa.Column("service_id", sa.String(length=16), nullable=False),
        sa.Column("source_version", sa.String(length=128), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("first_seen", sa.DateTime(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint(
            "patient_id",
            "provider_name",
            "resource_type",
            "remote_id",
            name=op.f("pk_sync_quarantine"),
        ),
    )
    with op.batch_alter_table("sync_quarantine", schema=None) as batch_op:
        batch_op.create_index("ix_sync_quarantine_seen", ["last_seen"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sync_quarantine", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_quarantine_seen")
    op.drop_table("sync_quarantine")
