"""Tables of the authorization server (``pgo_service.auth``).

Secrets never reach these tables in the clear: client secrets and passwords are
stored as scrypt hashes, authorization codes, access and refresh tokens and session
ids as SHA-256 hashes of high-entropy random strings, and TOTP secrets encrypted
with the service's secret key. Instants are naive UTC.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    false,
)

from .models import metadata

oauth_client = Table(
    "oauth_client",
    metadata,
    Column("client_id", String(255), primary_key=True),
    Column("organisation_name", String(255), nullable=False),
    Column("hostname", String(255), nullable=False),
    Column("redirect_uris", Text, nullable=False),  # JSON array
    Column("allowed_scopes", Text, nullable=False),  # space-separated
    Column("kind", String(20), nullable=False),  # public | confidential | private_key_jwt
    Column("secret_hash", String(255), nullable=True),
    Column("jwks", Text, nullable=True),  # JSON Web Key Set (RFC 7517)
    Column("is_system", Boolean, nullable=False, default=False),
    Column("created_at", DateTime, nullable=False),
    # Named by the imported OAuth client list; a client that drops off it is disabled.
    Column("on_client_list", Boolean, nullable=False, server_default=false()),
    Column("disabled_at", DateTime, nullable=True),
)

client_list = Table(
    "client_list",
    metadata,
    Column("name", String(40), primary_key=True),  # "ocl"
    Column("sequence_number", Integer, nullable=False),
    Column("imported_at", DateTime, nullable=False),
)

app_user = Table(
    "app_user",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("login_name", String(255), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("totp_secret", LargeBinary, nullable=False),  # encrypted
    Column("actor_reference", String(128), nullable=False),  # Patient/x or RelatedPerson/x
    Column("created_at", DateTime, nullable=False),
    # The TOTP time step of the last accepted code: that code and older ones are spent.
    Column("totp_last_step", Integer, nullable=True),
)

represented_patient = Table(
    "represented_patient",
    metadata,
    Column("user_id", String(64), ForeignKey("app_user.id"), primary_key=True),
    Column("patient_id", String(64), primary_key=True),
)

login_throttle = Table(
    "login_throttle",
    metadata,
    Column("login_name", String(255), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("locked_until", DateTime, nullable=True),
    Column("last_failure_at", DateTime, nullable=False),
)

login_session = Table(
    "login_session",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("csrf_token", String(64), nullable=False),
    Column("user_id", String(64), ForeignKey("app_user.id"), nullable=True),
    Column("stage", String(20), nullable=False),  # anonymous | password | authenticated
    Column("patient_id", String(64), nullable=True),
    Column("expires_at", DateTime, nullable=False),
)

oauth_grant = Table(
    "oauth_grant",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("client_id", String(255), ForeignKey("oauth_client.client_id"), nullable=False),
    Column("user_id", String(64), ForeignKey("app_user.id"), nullable=True),
    Column("actor_reference", String(128), nullable=False),
    Column("patient_id", String(64), nullable=True),
    Column("scope", Text, nullable=False),
    Column("long_term", Boolean, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("revoked_at", DateTime, nullable=True),
    Index(None, "user_id"),
)

authorization_code = Table(
    "authorization_code",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("grant_id", String(64), ForeignKey("oauth_grant.id"), nullable=False),
    Column("client_id", String(255), nullable=False),
    Column("redirect_uri", String(1024), nullable=False),
    Column("code_challenge", String(128), nullable=True),
    Column("expires_at", DateTime, nullable=False),
    Column("used_at", DateTime, nullable=True),
)

access_token = Table(
    "access_token",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("grant_id", String(64), ForeignKey("oauth_grant.id"), nullable=True),
    Column("client_id", String(255), nullable=False),
    Column("actor_reference", String(128), nullable=False),
    Column("patient_id", String(64), nullable=True),
    Column("scope", Text, nullable=False),
    Column("issued_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("revoked_at", DateTime, nullable=True),
    Index(None, "grant_id"),
)

refresh_token = Table(
    "refresh_token",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("grant_id", String(64), ForeignKey("oauth_grant.id"), nullable=False),
    Column("client_id", String(255), nullable=False),
    Column("scope", Text, nullable=False),
    Column("issued_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("rotated_at", DateTime, nullable=True),
    Column("revoked_at", DateTime, nullable=True),
    Index(None, "grant_id"),
)

client_assertion_jti = Table(
    "client_assertion_jti",
    metadata,
    Column("client_id", String(255), primary_key=True),
    Column("jti", String(255), primary_key=True),
    Column("expires_at", DateTime, nullable=False),
)
