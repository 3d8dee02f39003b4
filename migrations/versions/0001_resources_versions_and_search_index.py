"""resources, versions and search index

Revision ID: 0001
Revises:
Create Date: 2026-11-24 17:53:56.512782
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "resource",
        sa.Column("resource_type", sa.String(length=40), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", sa.DateTime(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("resource_type", "id", name=op.f("pk_resource")),
    )
    with op.batch_alter_table("resource", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_resource_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_resource_resource_type_last_updated"),
            ["resource_type", "last_updated"],
            unique=False,
        )

    op.create_table(
        "resource_version",
        sa.Column("resource_type", sa.String(length=40), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", sa.DateTime(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint(
            "resource_type", "id", "version_id", name=op.f("pk_resource_version")
        ),
    )
    with op.batch_alter_table("resource_version", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_resource_version_last_updated"), ["last_updated"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_resource_version_resource_type_last_updated"),
            ["resource_type", "last_updated"],
            unique=False,
        )

    op.create_table(
        "search_date",
        sa.Column(
            "pk",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("resource_type", sa.String(length=40), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("param", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=True),
        sa.Column("low", sa.BigInteger(), nullable=False),
        sa.Column("high", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_search_date")),
    )
    with op.batch_alter_table("search_date", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_search_date_resource_type_param_low_high"),
            ["resource_type", "param", "low", "high"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_search_date_resource_type_resource_id"),
            ["resource_type", "resource_id"],
            unique=False,
        )

    op.create_table(
        "search_quantity",
        sa.Column(
            "pk",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("resource_type", sa.String(length=40), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("param", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=True),
        sa.Column("low", sa.Float(), nullable=False),
        sa.Column("high", sa.Float(), nullable=False),
        sa.Column("system", sa.String(length=512), nullable=True),
        sa.Column("code", sa.String(length=512), nullable=True),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_search_quantity")),
    )
    with op.batch_alter_table("search_quantity", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_search_quantity_resource_type_param_low_high"),
            ["resource_type", "param", "low", "high"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_search_quantity_resource_type_resource_id"),
            ["resource_type", "resource_id"],
            unique=False,
        )

    op.create_table(
        "search_reference",
        sa.Column(
            "pk",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("resource_type", sa.String(length=40), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("param", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=True),
        sa.Column("target_type", sa.String(length=40), nullable=True),
        sa.Column("target_id", sa.String(length=64), nullable=True),
        sa.Column("url", sa.String(length=1024), nullable=True),
        sa.Column("identifier_system", sa.String(length=512), nullable=True),
        sa.Column("identifier_value", sa.String(length=512), nullable=True),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_search_reference")),
    )
    with op.batch_alter_table("search_reference", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_search_reference_resource_type_param_target_id_target_type"),
            ["resource_type", "param", "target_id", "target_type"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_search_reference_resource_type_resource_id"),
            ["resource_type", "resource_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_search_reference_target_type_target_id"),
            ["target_type", "target_id"],
            unique=False,
        )

    op.create_table(
        "search_string",
        sa.Column(
            "pk",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("resource_type", sa.String(length=40), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("param", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=True),
        sa.Column("value", sa.String(length=512), nullable=False),
        sa.Column("exact", sa.String(length=512), nullable=False),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_search_string")),
    )
    with op.batch_alter_table("search_string", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_search_string_resource_type_param_value"),
            ["resource_type", "param", "value"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_search_string_resource_type_resource_id"),
            ["resource_type", "resource_id"],
            unique=False,
        )

    op.create_table(
        "search_token",
        sa.Column(
            "pk",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("resource_type", sa.String(length=40), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("param", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=True),
        sa.Column("system", sa.String(length=512), nullable=True),
        sa.Column("code", sa.String(length=512), nullable=True),
        sa.Column("text", sa.String(length=512), nullable=True),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_search_token")),
    )
    with op.batch_alter_table("search_token", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_search_token_resource_type_param_code_system"),
            ["resource_type", "param", "code", "system"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_search_token_resource_type_resource_id"),
            ["resource_type", "resource_id"],
            unique=False,
        )

    op.create_table(
        "search_uri",
        sa.Column(
            "pk",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("resource_type", sa.String(length=40), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("param", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=True),
        sa.Column("value", sa.String(length=1024), nullable=False),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_search_uri")),
    )
    with op.batch_alter_table("search_uri", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_search_uri_resource_type_param_value"),
            ["resource_type", "param", "value"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_search_uri_resource_type_resource_id"),
            ["resource_type", "resource_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("search_uri", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_search_uri_resource_type_resource_id"))
        batch_op.drop_index(batch_op.f("ix_search_uri_resource_type_param_value"))

    op.drop_table("search_uri")
    with op.batch_alter_table("search_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_search_token_resource_type_resource_id"))
        batch_op.drop_index(batch_op.f("ix_search_token_resource_type_param_code_system"))

    op.drop_table("search_token")
    with op.batch_alter_table("search_string", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_search_string_resource_type_resource_id"))
        batch_op.drop_index(batch_op.f("ix_search_string_resource_type_param_value"))

    op.drop_table("search_string")
    with op.batch_alter_table("search_reference", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_search_reference_target_type_target_id"))
        batch_op.drop_index(batch_op.f("ix_search_reference_resource_type_resource_id"))
        batch_op.drop_index(
            batch_op.f("ix_search_reference_resource_type_param_target_id_target_type")
        )

    op.drop_table("search_reference")
    with op.batch_alter_table("search_quantity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_search_quantity_resource_type_resource_id"))
        batch_op.drop_index(batch_op.f("ix_search_quantity_resource_type_param_low_high"))

    op.drop_table("search_quantity")
    with op.batch_alter_table("search_date", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_search_date_resource_type_resource_id"))
        batch_op.drop_index(batch_op.f("ix_search_date_resource_type_param_low_high"))

    op.drop_table("search_date")
    with op.batch_alter_table("resource_version", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resource_version_resource_type_last_updated"))
        batch_op.drop_index(batch_op.f("ix_resource_version_last_updated"))

    op.drop_table("resource_version")
    with op.batch_alter_table("resource", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resource_resource_type_last_updated"))
        batch_op.drop_index(batch_op.f("ix_resource_patient_id"))

    op.drop_table("resource")
