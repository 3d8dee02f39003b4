"""connections to providers: a client's sealed tokens, pending authorization requests,
tokens awaiting revocation, and revocation endpoints

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 13:59:33.978849
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sync_authorization_request",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("provider_name", sa.String(length=255), nullable=False),
        sa.Column("service_id", sa.String(length=16), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("answered", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_sync_authorization_request")),
    )
    with op.batch_alter_table("sync_authorization_request", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sync_authorization_request_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_sync_authorization_request_patient_id_provider_name"),
            ["patient_id", "provider_name"],
            unique=False,
        )

    op.create_table(
        "sync_connection",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("provider_name", sa.String(length=255), nullable=False),
        sa.Column("service_id", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("scope", sa.String(length=1024), nullable=False),
        sa.Column("tokens", sa.LargeBinary(), nullable=True),
        sa.Column("access_expires_at", sa.DateTime(), nullable=True),
        sa.Column("has_refresh_token", sa.Boolean(), nullable=False),
        sa.Column("refreshing_until", sa.DateTime(), nullable=True),
        sa.Column("connected_by", sa.String(length=128), nullable=False),
        sa.Column("app_client_id", sa.String(length=255), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_connection")),
        sa.UniqueConstraint(
            "patient_id",
            "provider_name",
            "service_id",
            name=op.f("uq_sync_connection_patient_id_provider_name_service_id"),
        ),
    )
    op.create_table(
        "sync_revocation_endpoint",
        sa.Column("provider_name", sa.String(length=255), nullable=False),
        sa.Column("service_id", sa.String(length=16), nullable=False),
        sa.Column("uri", sa.String(length=1024), nullable=False),
        sa.PrimaryKeyConstraint(
            "provider_name", "service_id", name=op.f("pk_sync_revocation_endpoint")
        ),
    )
    op.create_table(
        "sync_token_revocation",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("provider_name", sa.String(length=255), nullable=False),
        sa.Column("service_id", sa.String(length=16), nullable=False),
        sa.Column("tokens", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_token_revocation")),
    )


def downgrade() -> None:
    op.drop_table("sync_token_revocation")
    op.drop_table("sync_revocation_endpoint")
    op.drop_table("sync_connection")
    with op.batch_alter_table("sync_authorization_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_authorization_request_patient_id_provider_name"))
        batch_op.drop_index(batch_op.f("ix_sync_authorization_request_expires_at"))

    op.drop_table("sync_authorization_request")
