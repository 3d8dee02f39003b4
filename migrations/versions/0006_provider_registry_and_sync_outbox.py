"""provider registry, allowed hosts, the sync outbox and pushed versions

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 13:21:35.039083
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sync_list",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("sequence_number", sa.Integer(), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=False),
        sa.Column("imported_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sync_list")),
    )
    op.create_table(
        "sync_allowed_host",
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("hostname", name=op.f("pk_sync_allowed_host")),
    )
    op.create_table(
        "sync_provider",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("listed", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sync_provider")),
    )
    op.create_table(
        "sync_data_service",
        sa.Column("provider_name", sa.String(length=255), nullable=False),
        sa.Column("service_id", sa.String(length=16), nullable=False),
        sa.Column("authorization_endpoint", sa.String(length=1024), nullable=False),
        sa.Column("token_endpoint", sa.String(length=1024), nullable=False),
        sa.Column("fhir_version", sa.String(length=8), nullable=True),
        sa.ForeignKeyConstraint(["provider_name"], ["sync_provider.name"]),
        sa.PrimaryKeyConstraint("provider_name", "service_id", name=op.f("pk_sync_data_service")),
    )
    op.create_table(
        "sync_resource_endpoint",
        sa.Column("provider_name", sa.String(length=255), nullable=False),
        sa.Column("service_id", sa.String(length=16), nullable=False),
        sa.Column("system_role", sa.String(length=64), nullable=False),
        sa.Column("uri", sa.String(length=1024), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_name", "service_id"],
            ["sync_data_service.provider_name", "sync_data_service.service_id"],
        ),
        sa.PrimaryKeyConstraint(
            "provider_name", "service_id", "system_role", name=op.f("pk_sync_resource_endpoint")
        ),
    )
    op.create_table(
        "sync_job",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("provider_name", sa.String(length=255), nullable=True),
        sa.Column("patient_id", sa.String(length=64), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("run_after", sa.DateTime(), nullable=False),
        sa.Column("locked_by", sa.String(length=128), nullable=True),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_job")),
    )
    with op.batch_alter_table("sync_job", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sync_job_status_run_after"), ["status", "run_after"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_sync_job_patient_id_provider_name_status"),
            ["patient_id", "provider_name", "status"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_sync_job_dedupe_key_status"), ["dedupe_key", "status"], unique=False
        )
    op.create_table(
        "sync_counter",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", "kind", name=op.f("pk_sync_counter")),
    )
    op.create_table(
        "sync_remote_version",
        sa.Column("provider_name", sa.String(length=255), nullable=False),
        sa.Column("service_id", sa.String(length=16), nullable=False),
        sa.Column("resource_type", sa.String(length=40), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("identifier", sa.String(length=600), nullable=False),
        sa.Column("remote_id", sa.String(length=128), nullable=True),
        sa.Column("etag", sa.String(length=160), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint(
            "provider_name",
            "service_id",
            "resource_type",
            "resource_id",
            name=op.f("pk_sync_remote_version"),
        ),
    )


def downgrade() -> None:
    op.drop_table("sync_remote_version")
    op.drop_table("sync_counter")
    with op.batch_alter_table("sync_job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_job_dedupe_key_status"))
        batch_op.drop_index(batch_op.f("ix_sync_job_patient_id_provider_name_status"))
        batch_op.drop_index(batch_op.f("ix_sync_job_status_run_after"))
    op.drop_table("sync_job")
    op.drop_table("sync_resource_endpoint")
    op.drop_table("sync_data_service")
    op.drop_table("sync_provider")
    op.drop_table("sync_allowed_host")
    op.drop_table("sync_list")
