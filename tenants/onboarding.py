"""The tenant onboarding kit: what a tenant's agent and App Gateway need on Kubernetes.

The ClearML docs pages *Multi-Tenant Service on Kubernetes* ("Workers", "Tenant Separation",
"Per-Tenant Applications Settings"), *Kubernetes* ("Agent with an Enterprise Server") and the App
Gateway's *Kubernetes Deployment* describe the pieces; the kit fills them in for one tenant
(docs/onboarding.md says where each value comes from):

1. the clearml-agent chart values (`clearml.existingAgentk8sglueSecret`, `agentk8sglue.*`);
2. the Kubernetes manifests: the tenant's Namespace, a NetworkPolicy isolating it, and the v1
   Secret the agent values name (keys `agentk8sglue_key` / `agentk8sglue_secret`);
3. the App Gateway chart values (its key and secret are read from that Secret at install).

Pure rendering: it reads the tenant (and the names of the other tenants, for the namespace) and
settings, and calls nothing. Credentials are never stored: a kit with them filled in is rendered
for the one answer that shows new credentials; otherwise the Secret is a template.
"""

import json
import re
import shlex
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import yaml
from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from tenants.models import Tenant

FORMATS = ("helm",)
NAMESPACE_PREFIX = "clearml-"
DNS_LABEL_MAX = 63
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
SECRET_NAME = "clearml-tenant-credentials"  # noqa: S105 - a Kubernetes object name
NETWORK_POLICY_NAME = "clearml-tenant-isolation"
KEY_FIELD, SECRET_FIELD = "agentk8sglue_key", "agentk8sglue_secret"
DEFAULT_QUEUE = "default"
AGENT_RELEASE, AGENT_CHART = "clearml-agent", "oci://docker.io/clearml/clearml-enterprise-agent"
GATEWAY_RELEASE = "clearml-app-gateway"
GATEWAY_CHART = "oci://docker.io/clearml/clearml-enterprise-app-gateway"
MANAGED_BY = {"app.kubernetes.io/managed-by": "clearml-tenant-console"}
# ClearML's default ports: apiserver 8008, web app 8080, fileserver 8081.
DEFAULT_PORTS = {"web": 8080, "files": 8081}
SCHEME_PORTS = {"https": 443, "http": 80}
# The parts of the kit, in the order the command prints them (install is the page's extra tab).
PARTS = {
    "agent": ("Agent values", "clearml-agent-values.override.yaml"),
    "manifests": ("Kubernetes manifests", "manifests.yaml"),
    "gateway": ("App Gateway values", "clearml-app-gateway-values.override.yaml"),
    "install": ("Install commands", "install.sh"),
}


class KitError(Exception):
    """The tenant cannot have a kit (no company on the apiserver yet, deleted)."""


@dataclass(frozen=True)
class KitCredentials:
    """A tenant admin's key pair, in memory only, for the one kit that shows it."""

    email: str
    access_key: str
    secret_key: str = field(repr=False)


# -- the servers' URLs --------------------------------------------------------------------------
def _derived(api_url: str, kind: str) -> str:
    """The web/files server URL next to the API URL (api.example.com -> files.example.com)."""
    if not api_url:
        return f"https://{kind if kind != 'web' else 'app'}.<BASE_DOMAIN>"
    parts = urlsplit(api_url)
    host = parts.hostname or ""
    if host.startswith("api."):
        prefix = "app." if kind == "web" else "files."
        netloc = prefix + parts.netloc[len("api.") :]
        return urlunsplit((parts.scheme, netloc, "", "", ""))
    if parts.port == 8008:
        netloc = parts.netloc.rsplit(":", 1)[0] + f":{DEFAULT_PORTS[kind]}"
        return urlunsplit((parts.scheme, netloc, "", "", ""))
    return f"<{kind.upper()}_SERVER_URL>"


def server_urls() -> dict:
    """The apiserver, web app and fileserver URLs agents use (settings, else derived)."""
    api = settings.CLEARML_API_URL or "https://api.<BASE_DOMAIN>"
    web = settings.CLEARML_WEBAPP_URL or _derived(settings.CLEARML_API_URL, "web")
    files = getattr(settings, "CLEARML_FILES_URL", "") or _derived(
        settings.CLEARML_API_URL, "files"
    )
    return {"api": api, "web": web, "files": files}


def _base_domain() -> str:
    host = urlsplit(settings.CLEARML_API_URL or "").hostname or ""
    return host[len("api.") :] if host.startswith("api.") else ""


def gateway_domain() -> str:
    """The domain under which each tenant's App Gateway gets its host name."""
    configured = getattr(settings, "ONBOARDING_APP_GATEWAY_DOMAIN", "")
    if configured:
        return configured.lower()
    base = _base_domain()
    return f"gateway.{base}" if base else ""


# -- the namespace ------------------------------------------------------------------------------
def name_slug(name: str) -> str:
    """The tenant name as a DNS label's characters: ASCII-folded, lower case, every run of
    other characters one '-', no '-' at either end (may be empty)."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")


def namespace_base(tenant_id: int, name: str) -> str:
    """`clearml-<slug>`, cut to 63 characters; `clearml-tenant-<id>` for a name with no ASCII
    letter or digit."""
    slug = name_slug(name) or f"tenant-{tenant_id}"
    return (NAMESPACE_PREFIX + slug)[:DNS_LABEL_MAX].rstrip("-")


def _with_suffix(base: str, suffix: str) -> str:
    return base[: DNS_LABEL_MAX - len(suffix)].rstrip("-") + suffix


@dataclass(frozen=True)
class Namespace:
    name: str
    # Why the name is not the tenant's plain `clearml-<slug>` (a collision), or "".
    note: str = ""


def tenant_namespace(tenant: Tenant) -> Namespace:
    """The tenant's namespace: `clearml-<slug>`, unique among every tenant the console has had.

    Tenants claim names in the order they were added (their id); a tenant whose name gives the
    same label as an earlier one's (names differ only in case, spaces or punctuation: "Acme
    Research" and "acme_research") gets `-<its id>` appended, and the kit says why. Deleted
    tenants keep their claim: their namespace may still exist in the cluster.
    """
    taken: dict[str, tuple[int, str]] = {}
    for pk, name in Tenant.objects.order_by("pk").values_list("pk", "name"):
        base = namespace_base(pk, name)
        chosen = base
        if chosen in taken:
            chosen = _with_suffix(base, f"-{pk}")
            number = 2
            while chosen in taken:
                chosen = _with_suffix(base, f"-{pk}-{number}")
                number += 1
        if pk == tenant.pk:
            if chosen == base:
                return Namespace(chosen)
            other_pk, other_name = taken[base]
            return Namespace(
                chosen,
                f"{base} is the namespace of tenant {other_name!r} (id {other_pk}), whose name "
                f"gives the same label, so this tenant's ends in -{pk}.",
            )
        taken[chosen] = (pk, name)
    return Namespace(namespace_base(tenant.pk, tenant.name))


# -- the documents ------------------------------------------------------------------------------
@dataclass
class KitDocument:
    part: str
    title: str
    filename: str
    text: str = field(repr=False)  # may hold new credentials


@dataclass
class Kit:
    tenant: Tenant
    namespace: Namespace
    queue: str
    urls: dict
    apps_queue: bool
    with_credentials: bool
    documents: list[KitDocument] = field(default_factory=list, repr=False)
    notes: list[str] = field(default_factory=list)

    def part(self, name: str) -> KitDocument:
        return next(d for d in self.documents if d.part == name)

    @property
    def filename(self) -> str:
        """The name of the whole kit as one file (the command's output)."""
        return f"{self.namespace.name}.onboarding.yaml"

    def text(self) -> str:
        """The YAML stream the command prints: the agent values, the manifests, the App Gateway
        values (each a document of its own)."""
        return "".join(self.part(name).text for name in ("agent", "manifests", "gateway"))


def _dump(data: dict) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)


def _comment(lines: list[str]) -> str:
    # One line each, whatever a name holds (names cannot hold control characters; be sure).
    return "".join("# " + " ".join(line.split()) + "\n" for line in lines)


def _labels(namespace: str) -> dict:
    return {**MANAGED_BY, "clearml.ai/tenant": namespace[len(NAMESPACE_PREFIX) :] or namespace}


def _annotations(tenant: Tenant) -> dict:
    return {"clearml.ai/tenant-name": tenant.name, "clearml.ai/company-id": tenant.company_id}


def agent_values(kit: Kit) -> dict:
    queue: dict = {"templateOverrides": {}, "queueSettings": {}}
    glue: dict = {
        "apiServerUrlReference": kit.urls["api"],
        "fileServerUrlReference": kit.urls["files"],
        "webServerUrlReference": kit.urls["web"],
        "createQueues": True,
        "queues": {kit.queue: queue},
    }
    if kit.apps_queue:
        glue["appsQueue"] = {"enabled": True}
    return {"clearml": {"existingAgentk8sglueSecret": SECRET_NAME}, "agentk8sglue": glue}


def gateway_values(kit: Kit) -> dict:
    domain = gateway_domain()
    slug = kit.namespace.name[len(NAMESPACE_PREFIX) :] or kit.namespace.name
    host = f"{slug}.{domain}" if domain else "<APP_GATEWAY_HOST>"
    return {
        "clearml": {"apiKey": "", "apiSecret": "", "apiServerUrlReference": kit.urls["api"]},
        "ingress": {"enabled": True, "hostName": host},
    }


def namespace_manifest(kit: Kit) -> dict:
    name = kit.namespace.name
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "labels": _labels(name),
            "annotations": _annotations(kit.tenant),
        },
    }


def _server_ports(urls: dict) -> list[dict]:
    ports: set[int] = set()
    for url in urls.values():
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = None
        port = port or SCHEME_PORTS.get(parts.scheme or "https", 443)
        ports.add(port)
    return [{"protocol": "TCP", "port": p} for p in sorted(ports)]


def _server_egress(urls: dict) -> list[dict]:
    """Egress to the ClearML servers: to the namespace they run in (any port: the pods' ports
    are not the URLs'), to their CIDRs on the URLs' ports, or, knowing neither, the URLs' ports
    to any address (a NetworkPolicy cannot name a host)."""
    namespace = getattr(settings, "ONBOARDING_SERVER_NAMESPACE", "")
    cidrs = list(getattr(settings, "ONBOARDING_SERVER_CIDRS", []) or [])
    rules: list[dict] = []
    if namespace:
        selector = {"matchLabels": {"kubernetes.io/metadata.name": namespace}}
        rules.append({"to": [{"namespaceSelector": selector}]})
    if cidrs:
        rules.append(
            {"to": [{"ipBlock": {"cidr": c}} for c in cidrs], "ports": _server_ports(urls)}
        )
    if not rules:
        rules.append({"ports": _server_ports(urls)})
    return rules


DNS_EGRESS = {
    "to": [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }
    ],
    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
}


def network_policy_manifest(kit: Kit) -> dict:
    """Every pod of the namespace: ingress only from pods of the same namespace (and the ingress
    controller's namespace, when set, for the App Gateway); egress to DNS and the servers."""
    sources: list[dict] = [{"podSelector": {}}]
    ingress_ns = getattr(settings, "ONBOARDING_INGRESS_NAMESPACE", "")
    if ingress_ns:
        sources.append(
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ingress_ns}}}
        )
    name = kit.namespace.name
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": NETWORK_POLICY_NAME, "namespace": name, "labels": MANAGED_BY},
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": sources}],
            "egress": [{"to": [{"podSelector": {}}]}, DNS_EGRESS, *_server_egress(kit.urls)],
        },
    }


@sensitive_variables()
def secret_manifest(kit: Kit, credentials: KitCredentials | None) -> dict:
    metadata: dict = {"name": SECRET_NAME, "namespace": kit.namespace.name, "labels": MANAGED_BY}
    if credentials is not None:
        metadata["annotations"] = {"clearml.ai/admin-email": credentials.email}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata,
        "type": "Opaque",
        "stringData": {
            KEY_FIELD: credentials.access_key if credentials else "",
            SECRET_FIELD: credentials.secret_key if credentials else "",
        },
    }


def _agent_document(kit: Kit) -> str:
    header = [
        f"{PARTS['agent'][1]}: clearml-agent chart values",
        f"Tenant {json.dumps(kit.tenant.name)}, company {kit.tenant.company_id}",
        f"Key and secret: the Secret {SECRET_NAME}, namespace {kit.namespace.name}",
        f"Queue {kit.queue!r} is created in the tenant's company (createQueues)",
    ]
    if kit.apps_queue:
        header.append("appsQueue: the server's clearmlApplications.queueMode is per_tenant")
    return "---\n" + _comment(header) + _dump(agent_values(kit))


@sensitive_variables()
def _manifests_document(kit: Kit, credentials: KitCredentials | None) -> str:
    secret_note = (
        [f"The Secret holds new credentials of {credentials.email}: keep this file private"]
        if credentials
        else ["The Secret is a template: fill in a tenant admin's access key and secret"]
    )
    header = [
        f"{PARTS['manifests'][1]}: Kubernetes manifests (kubectl apply -f)",
        f"Tenant {json.dumps(kit.tenant.name)}: Namespace, NetworkPolicy, Secret",
        *secret_note,
    ]
    docs = [
        namespace_manifest(kit),
        network_policy_manifest(kit),
        secret_manifest(kit, credentials),
    ]
    return "---\n" + _comment(header) + "---\n".join(_dump(d) for d in docs)


def _gateway_document(kit: Kit) -> str:
    header = [
        f"{PARTS['gateway'][1]}: App Gateway chart values",
        f"Tenant {json.dumps(kit.tenant.name)}; install in namespace {kit.namespace.name}",
        f"clearml.apiKey and apiSecret are set at install from the Secret {SECRET_NAME}",
        "(see the install commands); set clearml.authCookieName if your server's differs",
    ]
    return "---\n" + _comment(header) + _dump(gateway_values(kit))


def _install_commands(kit: Kit) -> str:
    ns = shlex.quote(kit.namespace.name)
    read = f'<(kubectl -n "$NS" get secret {SECRET_NAME} -o jsonpath="{{.data.%s}}" | base64 -d)'
    return (
        "#!/usr/bin/env bash\n"
        f"# Install the onboarding kit of tenant {json.dumps(kit.tenant.name)} (bash).\n"
        "set -euo pipefail\n"
        f"NS={ns}\n"
        "# 1. The namespace, its NetworkPolicy and the credentials Secret\n"
        f"kubectl apply -f {PARTS['manifests'][1]}\n"
        "# 2. The ClearML OCI registry (CLEARML_DOCKERHUB_TOKEN: your ClearML DockerHub token)\n"
        "helm registry login docker.io --username allegroaienterprise "
        '--password "$CLEARML_DOCKERHUB_TOKEN"\n'
        "# 3. The agent\n"
        f'helm upgrade -i -n "$NS" {AGENT_RELEASE} {AGENT_CHART} \\\n'
        f"  -f {PARTS['agent'][1]} \\\n"
        '  --set-string imageCredentials.password="$CLEARML_DOCKERHUB_TOKEN"\n'
        "# 4. The App Gateway, with the tenant's key and secret read from the Secret\n"
        f'helm upgrade -i -n "$NS" {GATEWAY_RELEASE} {GATEWAY_CHART} \\\n'
        f"  -f {PARTS['gateway'][1]} \\\n"
        '  --set-string imageCredentials.password="$CLEARML_DOCKERHUB_TOKEN" \\\n'
        f"  --set-file clearml.apiKey={read % KEY_FIELD} \\\n"
        f"  --set-file clearml.apiSecret={read % SECRET_FIELD}\n"
    )


def _notes(kit: Kit, credentials: KitCredentials | None) -> list[str]:
    notes = [kit.namespace.note] if kit.namespace.note else []
    if kit.apps_queue:
        admin = (
            kit.tenant.admins.filter(email__iexact=credentials.email).first()
            if credentials
            else None
        )
        if admin is not None and not admin.internal:
            notes.append(
                f"{admin.email} is not an internal user: with per-tenant applications the agent "
                "needs an internal admin's credentials (Multi-Tenant Service on Kubernetes)."
            )
    if not getattr(settings, "ONBOARDING_INGRESS_NAMESPACE", ""):
        notes.append(
            "The NetworkPolicy lets in only pods of the tenant's namespace; the App Gateway is "
            "reached through the ingress controller, so set ONBOARDING_INGRESS_NAMESPACE to let "
            "that namespace in."
        )
    if "<" in "".join(kit.urls.values()) or not gateway_domain():
        notes.append(
            "Some server URLs or the App Gateway host are placeholders (<...>): set "
            "CLEARML_API_URL, CLEARML_WEBAPP_URL, CLEARML_FILES_URL or "
            "ONBOARDING_APP_GATEWAY_DOMAIN, or edit the values."
        )
    return notes


@sensitive_variables()  # the kit's texts hold the secret too
def onboarding_kit(tenant: Tenant, credentials: KitCredentials | None = None) -> Kit:
    """The tenant's kit; with `credentials` the Secret is filled in (that kit must be shown
    once and never stored). Raises KitError for a tenant that cannot have one."""
    if tenant.is_deleted:
        raise KitError(f"tenant {tenant.name!r} is marked as deleted")
    if not tenant.company_id:
        raise KitError(
            f"tenant {tenant.name!r} has no company on the apiserver yet: apply its plan first"
        )
    kit = Kit(
        tenant=tenant,
        namespace=tenant_namespace(tenant),
        queue=DEFAULT_QUEUE,
        urls=server_urls(),
        apps_queue=getattr(settings, "CLEARML_APPS_QUEUE_MODE", "global") == "per_tenant",
        with_credentials=credentials is not None,
    )
    texts = {
        "agent": _agent_document(kit),
        "manifests": _manifests_document(kit, credentials),
        "gateway": _gateway_document(kit),
        "install": _install_commands(kit),
    }
    for part, (title, filename) in PARTS.items():
        kit.documents.append(KitDocument(part, title, filename, texts[part]))
    kit.notes = _notes(kit, credentials)
    return kit


# -- credentials files (`apply --credentials-out`) ----------------------------------------------
class CredentialsFileError(ValueError):
    """A credentials file that cannot be read; the message names the line, never a value."""


CREDENTIAL_FIELDS = ("tenant", "email", "access_key", "secret_key")


@sensitive_variables()
def credentials_from_text(text: str, tenant: Tenant, source: str) -> tuple[KitCredentials, str]:
    """The tenant's credentials from a file `apply --credentials-out` wrote: tab-separated
    `tenant=… email=… access_key=… secret_key=…` lines. Returns the first pair of the tenant
    (its name compared ignoring case) and a note when the file has more than one.

    Every line is checked; a bad one raises CredentialsFileError naming its number."""
    found: list[tuple[int, KitCredentials]] = []
    names: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields: dict[str, str] = {}
        for item in line.split("\t"):
            name, sep, value = item.partition("=")
            if not sep or name not in CREDENTIAL_FIELDS or name in fields:
                raise CredentialsFileError(
                    f"{source} line {number}: expected tab-separated tenant=, email=, "
                    "access_key= and secret_key= fields, as apply --credentials-out writes them"
                )
            fields[name] = value.strip()
        missing = [n for n in CREDENTIAL_FIELDS if not fields.get(n)]
        if missing:
            raise CredentialsFileError(
                f"{source} line {number}: no {', '.join(missing)} (fields are tab-separated "
                "name=value pairs, as apply --credentials-out writes them)"
            )
        if any(ch.isspace() for ch in fields["access_key"] + fields["secret_key"]):
            raise CredentialsFileError(
                f"{source} line {number}: a key or secret with white space in it"
            )
        names.append(fields["tenant"])
        if fields["tenant"].casefold() == tenant.name.casefold():
            found.append(
                (
                    number,
                    KitCredentials(fields["email"], fields["access_key"], fields["secret_key"]),
                )
            )
    if not found:
        listed = ", ".join(sorted(set(names))) or "none"
        raise CredentialsFileError(
            f"{source} has no credentials of tenant {tenant.name!r} (tenants in it: {listed})"
        )
    number, credentials = found[0]
    note = ""
    if len(found) > 1:
        note = (
            f"{source} has {len(found)} credential pairs of {tenant.name!r}; the kit uses the "
            f"first (line {number}, {credentials.email})."
        )
    return credentials, note
