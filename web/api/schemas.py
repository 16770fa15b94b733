"""The API's answers as typed schemas (pydantic, through django-ninja): the OpenAPI document is
generated from them, and every answer is checked against its schema before it is sent."""

from datetime import datetime
from typing import Any

from ninja import Schema

# --- tenants, routing, groups, identity providers ---------------------------------------------


class TenantOut(Schema):
    id: int | None  # the console's tenant id; None for a company created outside the console
    name: str
    company_id: str
    status: str
    origin: str
    on_server: bool | None  # None: the snapshot cannot tell
    platform: bool
    admins: list[str]


class TenantList(Schema):
    tenants: list[TenantOut]
    count: int
    page: int
    pages: int
    snapshot_at: datetime | None  # when the apiserver's companies were last read


class TenantRef(Schema):
    id: int
    name: str


class Whitelist(Schema):
    admins: list[str]
    users: list[str]


class RoutingOut(Schema):
    tenant: TenantRef
    domains: list[str]
    whitelist: Whitelist


class GroupOut(Schema):
    name: str
    display_name: str
    id: str
    features: list[str]
    assignable: bool
    version: int


class OrganizationOut(Schema):
    features: list[str]
    unique_company_names: bool | None
    ui_features_per_role: dict[str, dict[str, bool]]


class GroupsOut(Schema):
    groups: list[GroupOut]
    builtin_groups: dict[str, list[str] | None]
    organization: OrganizationOut


class ProviderOut(Schema):
    provider: str
    label: str
    protocol: str
    settings: dict[str, Any]
    # Each secret field: "set", "unset" or "env:NAME" (the variable it is read from); never a value.
    secrets: dict[str, str]
    allow_http: bool
    metadata_xml: bool
    version: int
    updated_at: datetime


class TenantSSOOut(Schema):
    tenant: TenantRef
    external_tenant: str
    group_mapping: dict[str, Any]
    admin_groups: list[str]
    provider: str
    configuration: dict[str, Any]
    client_secret: str  # "set", "unset" or "env:NAME"
    push_status: str


class MultiTenantLoginOut(Schema):
    enabled: bool
    allow_settings_providers: bool
    only_password_login: bool


class ProvidersOut(Schema):
    identity_providers: list[ProviderOut]
    multi_tenant_login: MultiTenantLoginOut
    tenant_sso: list[TenantSSOOut]


# --- audit -------------------------------------------------------------------------------------


class AuditEntryOut(Schema):
    seq: int
    created_at: datetime
    request_id: str
    actor: str
    action: str
    target_type: str
    target_id: str
    target_repr: str
    outcome: str
    error: str
    before: Any
    after: Any
    changed_fields: list[str]
    calls: list[dict[str, Any]]
    changeset: str
    outcome_of: int | None
    prev_hash: str
    entry_hash: str


class AuditPageOut(Schema):
    entries: list[AuditEntryOut]
    # Cursors: pass as ?before=N for the next older page, ?after=N for the next newer one.
    older: int | None
    newer: int | None


# --- changes -----------------------------------------------------------------------------------


class PlanStep(Schema):
    kind: str
    target: str
    call: dict[str, Any] | None
    risky: bool
    before: Any
    after: Any


class PlanOut(Schema):
    """Exactly what `manage.py plan SPEC --json` prints."""

    id: int
    hash: str
    steps: list[PlanStep]


class ChangeStepOut(PlanStep):
    status: str


class BackgroundOut(Schema):
    # The worker's run of the changeset (docs/worker.md): queued, running, done or failed.
    status: str
    attempts: int
    error: str
    # Before its first call a recorded SPEC's run reads each tenant from the server to check
    # the plan still holds: `checked` of `to_check` tenants read so far.
    checked: int
    to_check: int
    steps_done: int
    steps_total: int


class ChangeOut(Schema):
    id: int
    hash: str
    kind: str
    summary: str
    face: str
    status: str
    requested_by: str
    approved_by: str | None
    rejected_by: str | None
    prune: bool
    risky: bool
    notes: list[Any]
    error: str
    created_at: datetime
    applied_at: datetime | None
    steps: list[ChangeStepOut]
    # Only in GET /changes/<id>, for a changeset queued for the worker: its progress.
    background: BackgroundOut | None = None


class DecisionIn(Schema):
    hash: str  # the changeset's hash as it was reviewed
    reason: str = ""  # reject only: kept as a note


class IssuedCredentials(Schema):
    tenant: str
    email: str
    access_key: str
    secret_key: str


class ApplyOut(Schema):
    changeset: ChangeOut
    # New credentials, in this answer only: the console does not keep them.
    credentials: list[IssuedCredentials]
    failures: list[str]
    stored: list[str]


class QueuedOut(Schema):
    changeset: ChangeOut
    # The background apply: queued, running, done or failed (docs/worker.md).
    background_status: str
    # The changeset page, which shows its progress live.
    progress_url: str


# --- snippets ----------------------------------------------------------------------------------


class SnippetOut(Schema):
    source: str
    title: str
    format: str
    secrets: str
    filename: str
    content: str
    has_secrets: bool
    # secrets=secret-ref without the values: the keys of the v1 Secret to create beside it.
    secret_keys: list[str]
