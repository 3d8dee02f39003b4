"""Tables of the provider sync (``pgo_service.sync``).

The provider registry comes from MedMij's provider list (ZAL): providers, their data
services with the authorization and token endpoints, and a resource endpoint per
system role. Outbound calls are only made to hosts in ``sync_allowed_host`` (or in
``PGO_SYNC_ALLOWED_HOSTS``).

``sync_job`` is the outbox: a row is written in the same transaction as the change
that causes the call, and workers claim, run and record it. Payloads carry
references, never a BSN or a token. ``sync_counter`` counts what the workers did,
for the metrics. ``sync_remote_version`` keeps the provider's version of what was
pushed to it, so the next push can say ``If-Match``. Instants are naive UTC.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from .models import AutoPk, metadata

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

sync_job = Table(
    "sync_job",
    metadata,
    Column("id", AutoPk, primary_key=True, autoincrement=True),
    Column("kind", String(40), nullable=False),
    Column("provider_name", String(255), nullable=True),
    Column("patient_id", String(64), nullable=True),
    Column("payload", Text, nullable=False),  # JSON: references only
    Column("dedupe_key", String(255), nullable=True),
    Column("status", String(12), nullable=False),  # queued|running|done|dead|cancelled
    Column("attempts", Integer, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("run_after", DateTime, nullable=False),
    Column("locked_by", String(128), nullable=True),
    Column("locked_until", DateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Index(None, "status", "run_after"),
    Index(None, "patient_id", "provider_name", "status"),
    Index(None, "dedupe_key", "status"),
)

sync_counter = Table(
    "sync_counter",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("kind", String(40), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

sync_remote_version = Table(
    "sync_remote_version",
    metadata,
    Column("provider_name", String(255), primary_key=True),
    Column("service_id", String(16), primary_key=True),
    Column("resource_type", String(40), primary_key=True),
    Column("resource_id", String(64), primary_key=True),  # ours
    Column("identifier", String(600), nullable=False),  # system|value it was pushed under
    Column("remote_id", String(128), nullable=True),
    Column("etag", String(160), nullable=False),  # the provider's version, for If-Match
    Column("updated_at", DateTime, nullable=False),
    # a pull recognises our own pushes by the provider's id
    Index(
        "ix_sync_remote_version_remote", "provider_name", "service_id", "resource_type", "remote_id"
    ),
)

# Pull: how far each (client, provider, data service, resource type) has been read, as
# the provider's own ``meta.lastUpdated`` of the last merged page (never our clock).
sync_pull_cursor = Table(
    "sync_pull_cursor",
    metadata,
    Column("patient_id", String(64), primary_key=True),
    Column("provider_name", String(255), primary_key=True),
    Column("service_id", String(16), primary_key=True),
    Column("resource_type", String(40), primary_key=True),
    Column("cursor", String(64), nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

# Pull: which of our resources holds which provider resource (the source identifier's
# value), the provider's version last merged, and whether the source deleted it.
sync_pulled = Table(
    "sync_pulled",
    metadata,
    Column("patient_id", String(64), primary_key=True),
    Column("provider_name", String(255), primary_key=True),
    Column("resource_type", String(40), primary_key=True),
    Column("source_value", String(255), primary_key=True),  # the provider's id (#n: activity)
    Column("service_id", String(16), nullable=False),
    Column("resource_id", String(64), nullable=False),  # ours
    Column("source_version", String(128), nullable=True),  # versionId or lastUpdated
    Column("ended", Boolean, nullable=False),  # deleted at the source, ended here
    Column("updated_at", DateTime, nullable=False),
    Index("ix_sync_pulled_scope", "patient_id", "provider_name", "service_id", "resource_type"),
)

# Provider notifications name a client only by an opaque subscription id; the
# subscription says whose plan, at which provider's data service, and which
# registered confidential client may send notifications for it.
sync_subscription = Table(
    "sync_subscription",
    metadata,
    Column("subscription_id", String(64), primary_key=True),
    Column("patient_id", String(64), nullable=False),
    Column("provider_name", String(255), nullable=False),
    Column("service_id", String(16), nullable=False),
    Column("notifier_client_id", String(255), nullable=False),
    Column("end_date", DateTime, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Index("ix_sync_subscription_scope", "patient_id", "provider_name", "service_id"),
)

# The service as OAuth client of providers (MedMij's DVP side). A connection holds a
# client's tokens at one data service of one provider, sealed (AES-GCM under a key
# derived from PGO_SECRET_KEY) together with whose they are; nothing else about the
# tokens is stored. ``refreshing_until`` is a short lease, so only one process uses a
# (rotating) refresh token at a time.
sync_connection = Table(
    "sync_connection",
    metadata,
    Column("id", AutoPk, primary_key=True, autoincrement=True),
    Column("patient_id", String(64), nullable=False),
    Column("provider_name", String(255), nullable=False),
    Column("service_id", String(16), nullable=False),
    Column("status", String(12), nullable=False),  # active | broken
    Column("scope", String(1024), nullable=False),  # as the provider granted it
    Column("tokens", LargeBinary, nullable=True),  # sealed; None once broken
    Column("access_expires_at", DateTime, nullable=True),
    Column("has_refresh_token", Boolean, nullable=False),
    Column("refreshing_until", DateTime, nullable=True),
    Column("connected_by", String(128), nullable=False),  # Patient/x or RelatedPerson/y
    Column("app_client_id", String(255), nullable=False),  # the pgo app that connected
    Column("last_error", Text, nullable=True),  # never a token
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    UniqueConstraint("patient_id", "provider_name", "service_id"),
)

# An authorization request sent to a provider: the callback marks it answered (so a
# state works once) and deletes it when the tokens are stored; forgetting the client's
# connection deletes it, so an exchange under way then stores nothing. The PKCE
# verifier travels inside the sealed state.
sync_authorization_request = Table(
    "sync_authorization_request",
    metadata,
    Column("nonce", String(64), primary_key=True),
    Column("patient_id", String(64), nullable=False),
    Column("provider_name", String(255), nullable=False),
    Column("service_id", String(16), nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("answered", Boolean, nullable=False),  # the callback came; the code is being exchanged
    Index(None, "patient_id", "provider_name"),
    Index(None, "expires_at"),
)

# Tokens a forgotten connection held, kept (still sealed) only until the revocation
# job has told the provider (RFC 7009).
sync_token_revocation = Table(
    "sync_token_revocation",
    metadata,
    Column("id", AutoPk, primary_key=True, autoincrement=True),
    Column("provider_name", String(255), nullable=False),
    Column("service_id", String(16), nullable=False),
    Column("tokens", LargeBinary, nullable=False),
    Column("created_at", DateTime, nullable=False),
)

# The RFC 7009 revocation endpoint of a data service's authorization server, stated
# by the operator (MedMij's provider list has none); kept across list imports.
sync_revocation_endpoint = Table(
    "sync_revocation_endpoint",
    metadata,
    Column("provider_name", String(255), primary_key=True),
    Column("service_id", String(16), primary_key=True),
    Column("uri", String(1024), nullable=False),
)

# Pull: provider resources set aside because they could not be merged (invalid FHIR, or
# a rule of the plan refused them), so the rest of their page is merged. Named by the
# provider's id and a reason only, never their content; a later version that merges
# clears the row.
sync_quarantine = Table(
    "sync_quarantine",
    metadata,
    Column("patient_id", String(64), primary_key=True),
    Column("provider_name", String(255), primary_key=True),
    Column("resource_type", String(40), primary_key=True),
    Column("remote_id", String(128), primary_key=True),  # the provider's id
    Column("service_id", String(16), nullable=False),
    Column("source_version", String(128), nullable=True),
    Column("reason", Text, nullable=False),
    Column("first_seen", DateTime, nullable=False),
    Column("last_seen", DateTime, nullable=False),
    Index("ix_sync_quarantine_seen", "last_seen"),
)
