"""covering search indexes by value and by owner

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 18:39:31.666153
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("search_date", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_search_date_resource_type_param_low_high"))
        batch_op.drop_index(batch_op.f("ix_search_date_resource_type_resource_id"))
        batch_op.create_index(
            "ix_search_date_by_owner",
            ["resource_type", "resource_id", "param", "low", "high"],
            unique=False,
        )
        batch_op.create_index(
            "ix_search_date_by_value",
            ["resource_type", "param", "low", "high", "resource_id"],
            unique=False,
        )

    with op.batch_alter_table("search_quantity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_search_quantity_resource_type_param_low_high"))
        batch_op.drop_index(batch_op.f("ix_search_quantity_resource_type_resource_id"))
        batch_op.create_index(
            "ix_search_quantity_by_owner",
            ["resource_type", "resource_id", "param", "low", "high"],
            unique=False,
        )
        batch_op.create_index(
            "ix_search_quantity_by_value",
            ["resource_type", "param", "low", "high", "resource_id"],
            unique=False,
        )

    with op.batch_alter_table("search_reference", schema=None) as batch_op:
        batch_op.drop_index(
            batch_op.f("ix_search_reference_resource_type_param_target_id_target_type")
        )
        batch_op.drop_index(batch_op.f("ix_search_reference_resource_type_resource_id"))
        batch_op.drop_index(batch_op.f("ix_search_reference_target_type_target_id"))
        batch_op.create_index(
            "ix_search_reference_by_owner",
            ["resource_type", "resource_id", "param", "target_id", "target_type"],
            unique=False,
        )
        batch_op.create_index(
            "ix_search_reference_by_target",
            ["target_type", "target_id", "param", "resource_type", "resource_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_search_reference_by_value",
            ["resource_type", "param", "target_id", "target_type", "resource_id"],
            unique=False,
        )

    with op.batch_alter_table("search_string", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_search_string_resource_type_param_value"))
        batch_op.drop_index(batch_op.f("ix_search_string_resource_type_resource_id"))
        batch_op.create_index(
            "ix_search_string_by_owner",
            ["resource_type", "resource_id", "param", "value"],
            unique=False,
        )
        batch_op.create_index(
            "ix_search_string_by_value",
            ["resource_type", "param", "value", "resource_id"],
            unique=False,
        )

    with op.batch_alter_table("search_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_search_token_resource_type_param_code_system"))
        batch_op.drop_index(batch_op.f("ix_search_token_resource_type_resource_id"))
        batch_op.create_index(
            "ix_search_token_by_owner",
            ["resource_type", "resource_id", "param", "code", "system"],
            unique=False,
        )
        batch_op.create_index(
            "ix_search_token_by_value",
            ["resource_type", "param", "code", "system", "resource_id"],
            unique=False,
        )

    with op.batch_alter_table("search_uri", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_search_uri_resource_type_param_value"))
        batch_op.drop_index(batch_op.f("ix_search_uri_resource_type_resource_id"))
        batch_op.create_index(
            "ix_search_uri_by_owner",
            ["resource_type", "resource_id", "param", "value"],
            unique=False,
        )
        batch_op.create_index(
            "ix_search_uri_by_value",
            ["resource_type", "param", "value", "resource_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("search_uri", schema=None) as batch_op:
        batch_op.drop_index("ix_search_uri_by_value")
        batch_op.drop_index("ix_search_uri_by_owner")
        batch_op.create_index(
            batch_op.f("ix_search_uri_resource_type_resource_id"),
            ["resource_type", "resource_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_search_uri_resource_type_param_value"),
            ["resource_type", "param", "value"],
            unique=False,
        )

    with op.batch_alter_table("search_token", schema=None) as batch_op:
        batch_op.drop_index("ix_search_token_by_value")
        batch_op.drop_index("ix_search_token_by_owner")
        batch_op.create_index(
            batch_op.f("ix_search_token_resource_type_resource_id"),
            ["resource_type", "resource_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_search_token_resource_type_param_code_system"),
            ["resource_type", "param", "code", "system"],
            unique=False,
        )

    with op.batch_alter_table("search_string", schema=None) as batch_op:
        batch_op.drop_index("ix_search_string_by_value")
        batch_op.drop_index("ix_search_string_by_owner")
        batch_op.create_index(
            batch_op.f("ix_search_string_resource_type_resource_id"),
            ["resource_type", "resource_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_search_string_resource_type_param_value"),
            ["resource_type", "param", "value"],
            unique=False,
        )

    with op.batch_alter_table("search_reference", schema=None) as batch_op:
        batch_op.drop_index("ix_search_reference_by_value")
        batch_op.drop_index("ix_search_reference_by_target")
        batch_op.drop_index("ix_search_reference_by_owner")
        batch_op.create_index(
            batch_op.f("ix_search_reference_target_type_target_id"),
            ["target_type", "target_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_search_reference_resource_type_resource_id"),
            ["resource_type", "resource_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_search_reference_resource_type_param_target_id_target_type"),
            ["resource_type", "param", "target_id", "target_type"],
            unique=False,
        )

    with op.batch_alter_table("search_quantity", schema=None) as batch_op:
        batch_op.drop_index("ix_search_quantity_by_value")
        batch_op.drop_index("ix_search_quantity_by_owner")
        batch_op.create_index(
            batch_op.f("ix_search_quantity_resource_type_resource_id"),
            ["resource_type", "resource_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_search_quantity_resource_type_param_low_high"),
            ["resource_type", "param", "low", "high"],
            unique=False,
        )

    with op.batch_alter_table("search_date", schema=None) as batch_op:
        batch_op.drop_index("ix_search_date_by_value")
        batch_op.drop_index("ix_search_date_by_owner")
        batch_op.create_index(
            batch_op.f("ix_search_date_resource_type_resource_id"),
            ["resource_type", "resource_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_search_date_resource_type_param_low_high"),
            ["resource_type", "param", "low", "high"],
            unique=False,
        )
