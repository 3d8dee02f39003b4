"""pull cursors, pulled resources and provider notification subscriptions

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 10:12:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sync_pull_cursor",
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("provider_name", sa.String(length=255), nullable=False),
        sa.Column("service_id", sa.String(length=16), nullable=False),
        sa.Column("resource_type", sa.String(length=40), nullable=False),
        sa.Column("cursor", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint(
            "patient_id",
            "provider_name",
            "service_id",
            "resource_type",
            name=op.f("pk_sync_pull_cursor"),
        ),
    )
    op.create_table(
        "sync_pulled",
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("provider_name", sa.String(length=255), nullable=False),
        sa.Column("resource_type", sa.String(length=40), nullable=False),
        sa.Column("source_value", sa.String(length=255), nullable=False),
        sa.Column("service_id", sa.String(length=16), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("source_version", sa.String(length=128), nullable=True),
        sa.Column("ended", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint(
            "patient_id",
            "provider_name",
            "resource_type",
            "source_value",
            name=op.f("pk_sync_pulled"),
        ),
    )
    with op.batch_alter_table("sync_pulled", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sync_pulled_scope",
            ["patient_id", "provider_name", "service_id", "resource_type"],
            unique=False,
        )
    op.create_table(
        "sync_subscription",
        sa.Column("subscription_id", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("provider_name", sa.String(length=255), nullable=False),
        sa.Column("service_id", sa.String(length=16), nullable=False),
        sa.Column("notifier_client_id", sa.String(length=255), nullable=False),
        sa.Column("end_date", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("subscription_id", name=op.f("pk_sync_subscription")),
    )
    with op.batch_alter_table("sync_subscription", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sync_subscription_scope",
            ["patient_id", "provider_name", "service_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("sync_subscription", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_subscription_scope")
    op.drop_table("sync_subscription")
    with op.batch_alter_table("sync_pulled", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_pulled_scope")
    op.drop_table("sync_pulled")
    op.drop_table("sync_pull_cursor")
