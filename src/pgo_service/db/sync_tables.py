"""Tables of the provider sync (``pgo_service.sync``).

The provider registry comes from MedMij's provider list (ZAL): providers, their data
services with the authorization and token endpoints, and a resource endpoint per
system role. Outbound calls are only made to hosts in ``sync_allowed_host`` (or in
``PGO_SYNC_ALLOWED_HOSTS``).

Instants are naive UTC.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    String,
    Table,
)

from .models import metadata

sync_list = Table(
    "sync_list",
    metadata,
    Column("name", String(40), primary_key=True),  # "zal" | "whitelist"
    Column("sequence_number", Integer, nullable=False),
    Column("published_at", DateTime, nullable=False),  # the list's Tijdstempel
    Column("imported_at", DateTime, nullable=False),
)

sync_provider = Table(
    "sync_provider",
    metadata,
    Column("name", String(255), primary_key=True),  # Zorgaanbiedernaam, e.g. "x@medmij"
    Column("listed", Boolean, nullable=False),  # false once a newer list drops it
    Column("updated_at", DateTime, nullable=False),
)

sync_data_service = Table(
    "sync_data_service",
    metadata,
    Column("provider_name", String(255), ForeignKey("sync_provider.name"), primary_key=True),
    Column("service_id", String(16), primary_key=True),  # GegevensdienstId
    Column("authorization_endpoint", String(1024), nullable=False),
    Column("token_endpoint", String(1024), nullable=False),
    Column("fhir_version", String(8), nullable=True),  # stated by the operator; else by id
)

sync_resource_endpoint = Table(
    "sync_resource_endpoint",
    metadata,
    Column("provider_name", String(255), primary_key=True),
    Column("service_id", String(16), primary_key=True),
    Column("system_role", String(64), primary_key=True),  # Systeemrolcode
    Column("uri", String(1024), nullable=False),
    ForeignKeyConstraint(
        ["provider_name", "service_id"],
        ["sync_data_service.provider_name", "sync_data_service.service_id"],
    ),
)

sync_allowed_host = Table(
    "sync_allowed_host",
    metadata,
    Column("hostname", String(255), primary_key=True),
    Column("source", String(16), nullable=False),  # "operator" | "whitelist"
    Column("added_at", DateTime, nullable=False),
)
