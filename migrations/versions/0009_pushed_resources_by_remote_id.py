"""pushed resources found by the provider's id

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 09:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sync_remote_version", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sync_remote_version_remote",
            ["provider_name", "service_id", "resource_type", "remote_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("sync_remote_version", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_remote_version_remote")
