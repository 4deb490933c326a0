"""What `deploy/` promises, checked without Docker or a cluster.

Every manifest parses; every Deployment and the setup Job are hardened and probed; every setting a
service has no usable production default for is set, and the services' own settings classes
accept the result (production for Kubernetes, local for compose); the alert rules and the
dashboard name metrics the services really export; compose builds from Dockerfiles that exist.
When `kubectl` is on PATH the production overlay is also rendered with its built-in kustomize.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from pydantic import SecretStr
from shouwang_devstack.localenv import read_env_file, role_password
from shouwang_devstack.services import REGISTRY

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
BASE = K8S / "base"
COMPOSE = DEPLOY / "compose.yaml"
COMPOSE_ENV = DEPLOY / "compose.env.example"
SERVICES = ("intake", "triage", "casework", "notify", "stats", "gateway")
# Services whose /metrics the rules and the dashboard read.
METRIC_SERVICES = SERVICES
SECRET_NAME = "shouwang-secrets"
CONFIG_NAME = "shouwang-config"
SECRETISH = re.compile(r"(SECRET|PASSWORD|KEY|TOKEN|DATABASE_URL)", re.IGNORECASE)
# Metrics that other exporters provide (kube-state-metrics, kafka-exporter) or Prometheus itself.
EXTERNAL_METRICS = {
    "up",
    "kube_deployment_status_replicas_available",
    "kube_deployment_spec_replicas",
    "kafka_brokers",
}


def _load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def _manifests(folder: Path) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(folder.rglob("*.yaml")):
        if path.name != "kustomization.yaml":
            docs += _load_all(path)
    return docs


def _by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d.get("kind") == kind}


def _settings_class(service: str) -> type:
    module = pytest.importorskip(f"shouwang_{service}.config")
    return next(
        value
        for name, value in vars(module).items()
        if name.endswith("Settings") and name != "SharedSettings" and isinstance(value, type)
    )


def _env_name(service: str, name: str, field: Any) -> str:
    alias = field.validation_alias
    if alias is not None:
        return str(alias.choices[0]) if hasattr(alias, "choices") else str(alias)
    return f"{service.upper()}_{name.upper()}"


def _required_env(service: str, *, production: bool) -> set[str]:
    """Variables whose defaults only work on a developer's machine (loopback, local secrets)."""
    required = {"SHOUWANG_ENV"}
    settings = _settings_class(service)
    in_use = getattr(settings, "SECRETS_IN_USE", None)
    shared_keys = {"SHOUWANG_PSEUDONYM_KEY", "SHOUWANG_NOTE_KEYS", "SHOUWANG_PLACEMENT_KEY"}
    for name, field in settings.model_fields.items():
        default = field.default
        local_only = isinstance(default, SecretStr) or (
            isinstance(default, str)
            and ("127.0.0.1" in default or "localhost" in default or "local" in default)
        )
        env_name = _env_name(service, name, field)
        if env_name in shared_keys and in_use is not None and env_name not in in_use:
            continue  # a key the service never uses is not handed to it (least secrets)
        if local_only:
            required.add(env_name)
    if production and service != "gateway":
        # Production verifies RS256 tokens against the identity provider's keys (the gateway
        # mints the services' tokens and verifies none).
        required |= {"SHOUWANG_JWKS_URL"}
        if service == "casework":
            required.add("CASEWORK_CAMPUSES")  # empty: no missed-follow-up reminders at all
    else:
        required -= {"SHOUWANG_JWT_ISSUER"}  # local tokens use the local issuer on purpose
    return required


# --- every file parses --------------------------------------------------------------------------
def _deploy_yaml_files() -> list[Path]:
    local = DEPLOY / "local"
    return [p for p in sorted(DEPLOY.rglob("*.yaml")) if local not in p.parents]


@pytest.mark.parametrize("path", _deploy_yaml_files(), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_yaml_file_parses(path: Path) -> None:
    assert _load_all(path), f"{path} is empty"


# --- Kubernetes: hardening and probes -------------------------------------------------------------
BASE_DOCS = _manifests(BASE)
DEPLOYMENTS = _by_kind(BASE_DOCS, "Deployment")
CONFIG = _by_kind(BASE_DOCS, "ConfigMap")[CONFIG_NAME]["data"]


def _check_pod(name: str, pod: dict[str, Any]) -> None:
    security = pod.get("securityContext", {})
    assert security.get("runAsNonRoot") is True, f"{name}: pod runAsNonRoot"
    assert security.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{name}: seccomp"
    assert pod.get("automountServiceAccountToken") is False, f"{name}: no API token needed"
    containers = pod.get("initContainers", []) + pod["containers"]
    for container in containers:
        where = f"{name}/{container['name']}"
        limits = container.get("resources", {}).get("limits", {})
        requests = container.get("resources", {}).get("requests", {})
        assert {"cpu", "memory"} <= limits.keys(), f"{where}: cpu and memory limits"
        assert {"cpu", "memory"} <= requests.keys(), f"{where}: cpu and memory requests"
        sc = container.get("securityContext", {})
        assert sc.get("readOnlyRootFilesystem") is True, f"{where}: readOnlyRootFilesystem"
        assert sc.get("allowPrivilegeEscalation") is False, f"{where}: allowPrivilegeEscalation"
        assert sc.get("runAsNonRoot") is True, f"{where}: runAsNonRoot"
        assert sc.get("capabilities", {}).get("drop") == ["ALL"], f"{where}: drop ALL"
        mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
        assert "/tmp" in mounts, f"{where}: a writable /tmp beside the read-only root"  # noqa: S108


def test_base_has_one_deployment_and_service_per_service() -> None:
    assert set(DEPLOYMENTS) == set(SERVICES)
    assert set(_by_kind(BASE_DOCS, "Service")) == set(SERVICES)
    assert not [d for d in BASE_DOCS if d["kind"] == "Secret"], "secrets are never committed"
    namespace = _by_kind(BASE_DOCS, "Namespace")
    assert list(namespace) == ["shouwang"]
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text(encoding="utf-8"))
    assert kustomization["namespace"] == "shouwang"
    listed = {path for path in kustomization["resources"]}
    present = {p.name for p in BASE.glob("*.yaml") if p.name != "kustomization.yaml"}
    assert listed == present, "every base manifest is listed in kustomization.yaml"


@pytest.mark.parametrize("service", SERVICES)
def test_deployment_is_probed_limited_and_hardened(service: str) -> None:
    deployment = DEPLOYMENTS[service]
    pod = deployment["spec"]["template"]["spec"]
    _check_pod(service, pod)
    (container,) = pod["containers"]
    port = REGISTRY[service].port
    assert container["ports"] == [{"name": "http", "containerPort": port}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert pod["topologySpreadConstraints"], "replicas spread over nodes and zones"
    (wait,) = pod["initContainers"]
    assert wait["image"] == "shouwang-tools"
    assert wait["command"] == ["python", "/app/bin/wait_for_migrations.py", service]
    assert [e["name"] for e in wait["env"]] == [f"{service.upper()}_DATABASE_URL"]
    service_doc = _by_kind(BASE_DOCS, "Service")[service]
    assert service_doc["spec"]["ports"] == [{"name": "http", "port": port, "targetPort": "http"}]
    assert service_doc["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_replica_safe_services_run_two_replicas() -> None:
    assert DEPLOYMENTS["intake"]["spec"]["replicas"] == 2
    assert DEPLOYMENTS["triage"]["spec"]["replicas"] == 2
    # Stats' replicas would share its consumer group and wait on each other's rebuild lock.
    assert DEPLOYMENTS["stats"]["spec"]["replicas"] == 1


def test_setup_job_is_hardened_and_runs_topics_then_every_migration() -> None:
    job = _by_kind(BASE_DOCS, "Job")["shouwang-setup"]
    pod = job["spec"]["template"]["spec"]
    _check_pod("shouwang-setup", pod)
    commands = [c["command"] for c in pod["initContainers"] + pod["containers"]]
    assert commands[0] == ["python", "/app/bin/create_topics.py"]
    assert commands[1:] == [["shouwang-dev", "migrate", svc] for svc in SERVICES]
    for container in pod["initContainers"][1:] + pod["containers"]:
        keys = {e["valueFrom"]["secretKeyRef"]["key"] for e in container["env"]}
        assert keys == {"DATABASE_URL", "SHOUWANG_DB_ROLE_SECRET"}
    assert "KAFKA_BOOTSTRAP_SERVERS" in CONFIG
    assert (CONFIG["TOPIC_REPLICATION_FACTOR"], CONFIG["TOPIC_MIN_INSYNC_REPLICAS"]) == ("3", "2")


def test_production_topics_have_replication_three_and_min_isr_two() -> None:
    spec = importlib.util.spec_from_file_location(
        "create_topics", DEPLOY / "setup/create_topics.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    specs = module.production_specs(3, 2)
    assert specs
    assert {s.replication_factor for s in specs} == {3}
    assert {s.configs["min.insync.replicas"] for s in specs} == {"2"}
    assert any(s.name.endswith(".dlq") for s in specs)
    with pytest.raises(ValueError, match=r"min\.insync"):
        module.production_specs(1, 2)


# --- Kubernetes: configuration and secrets ---------------------------------------------------------
def _container_env(service: str) -> tuple[dict[str, str], dict[str, str]]:
    """(plain values incl. the ConfigMap's, secret key refs) the service's container gets."""
    (container,) = DEPLOYMENTS[service]["spec"]["template"]["spec"]["containers"]
    assert container["envFrom"] == [{"configMapRef": {"name": CONFIG_NAME}}]
    values = dict(CONFIG)
    secrets: dict[str, str] = {}
    for entry in container["env"]:
        if "value" in entry:
            values[entry["name"]] = entry["value"]
        else:
            ref = entry["valueFrom"]["secretKeyRef"]
            assert ref["name"] == SECRET_NAME
            secrets[entry["name"]] = ref["key"]
    return values, secrets


@pytest.mark.parametrize("service", SERVICES)
def test_production_env_sets_everything_without_a_usable_default(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    values, secrets = _container_env(service)
    missing = _required_env(service, production=True) - values.keys() - secrets.keys()
    assert not missing, f"{service} would fall back to local-only defaults for {sorted(missing)}"
    assert values["SHOUWANG_ENV"] == "production"
    assert values[f"{service.upper()}_HOST"] == "0.0.0.0"  # noqa: S104 - a pod serves its IP
    # The settings class must accept the result in production mode (fake secret values).
    fake = {
        "SHOUWANG_JWKS_URL": "https://sso.example.edu.cn/jwks",
        "SHOUWANG_JWT_ISSUER": "https://sso.example.edu.cn",
        "SHOUWANG_PSEUDONYM_KEY": "test-pseudonym-key-of-at-least-32-bytes",
        "SHOUWANG_NOTE_KEYS": "k1:" + "A" * 43,
        "SHOUWANG_PLACEMENT_KEY": "test-placement-key-of-at-least-32-bytes",
    }
    env = {
        **values,
        **{name: fake.get(key, "postgresql://x:y@db/z") for name, key in secrets.items()},
    }
    _isolate_env(monkeypatch, env)
    settings = _settings_class(service)()
    assert settings.env == "production"
    if service != "gateway":  # it mints the services' tokens (RS256 signing key), verifies none
        settings.token_verifier()  # JWKS mode: no local secret involved
    for key, build in (
        ("SHOUWANG_PSEUDONYM_KEY", settings.pseudonymizer),
        ("SHOUWANG_NOTE_KEYS", settings.note_cipher),
        ("SHOUWANG_PLACEMENT_KEY", settings.placement_hasher),
    ):
        if key in settings.SECRETS_IN_USE:
            build()
        else:  # least secrets: a key the service does not use is not in its pod at all
            assert key not in secrets, f"{service} is handed {key}, which it never uses"
    if service == "gateway":
        return  # it speaks HTTP only: no Kafka user
    # Kafka: TLS with the service's own SCRAM user.
    assert values["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert values["KAFKA_SASL_USERNAME"] == f"shouwang-{service}"
    assert secrets["KAFKA_SASL_PASSWORD"] == f"KAFKA_SASL_PASSWORD_{service.upper()}"


def _isolate_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    prefixes = ("SHOUWANG_", "KAFKA_", *(f"{s.upper()}_" for s in SERVICES))
    for key in list(os.environ):
        if key.startswith(prefixes):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)


def test_every_secret_key_is_documented_and_none_is_committed() -> None:
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    keys = {key for svc in SERVICES for key in _container_env(svc)[1].values()}
    keys |= {"DATABASE_URL", "SHOUWANG_DB_ROLE_SECRET"}
    undocumented = sorted(k for k in keys if k not in readme)
    assert not undocumented, f"deploy/README.md must say how to create {undocumented}"
    for key, value in CONFIG.items():
        if SECRETISH.search(key):
            assert value == "", f"{key} belongs in {SECRET_NAME}, not the ConfigMap"
    for doc in _manifests(K8S):
        assert doc.get("kind") != "Secret", "secrets are created by the operator, never committed"


# --- Kubernetes: components and overlay -----------------------------------------------------------
def test_components_are_kustomize_components_and_production_uses_them_all() -> None:
    components = sorted(p.parent.name for p in (K8S / "components").glob("*/kustomization.yaml"))
    assert components == [
        "autoscaling",
        "kafka-strimzi",
        "monitoring",
        "network-policies",
        "postgres-cnpg",
        "triage-census-split",
    ]
    for name in components:
        doc = yaml.safe_load((K8S / "components" / name / "kustomization.yaml").read_text())
        assert doc["kind"] == "Component"
    overlay = yaml.safe_load((K8S / "overlays/production/kustomization.yaml").read_text())
    assert overlay["resources"] == ["../../base"]
    assert sorted(overlay["components"]) == [f"../../components/{n}" for n in components]
    images = {i["name"] for i in overlay["images"]}
    assert images == {f"shouwang-{s}" for s in SERVICES} | {"shouwang-tools"}
    assert all(i.get("newTag") for i in overlay["images"])


def test_network_policies_deny_by_default_and_open_the_service_ports() -> None:
    policies = _by_kind(_manifests(K8S / "components/network-policies"), "NetworkPolicy")
    deny = policies["shouwang-default-deny"]["spec"]
    assert deny["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in deny
    ports = {
        p["port"] for p in policies["shouwang-allow-kafka-postgres"]["spec"]["egress"][0]["ports"]
    }
    assert {9092, 5432} <= ports
    ingress = policies["shouwang-allow-service-ports"]["spec"]["ingress"]
    assert ingress == [{"ports": [{"protocol": "TCP", "port": "http"}]}]


def test_dashboard_files_are_what_the_generator_writes() -> None:
    spec = importlib.util.spec_from_file_location("dash", DEPLOY / "grafana/build_dashboard.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    expected = module.render()
    for path in module.OUTPUTS:
        assert path.read_text(encoding="utf-8") == expected, (
            f"{path} is stale: run uv run python deploy/grafana/build_dashboard.py"
        )
    kustomization = yaml.safe_load((K8S / "components/monitoring/kustomization.yaml").read_text())
    (generator,) = kustomization["configMapGenerator"]
    assert generator["options"]["labels"] == {"grafana_dashboard": "1"}


# --- metric names -------------------------------------------------------------------------------------
def _exported_metric_names() -> set[str]:
    """Every sample name the services can expose, from their registries (with the kit's)."""
    names: set[str] = set()
    for service in METRIC_SERVICES:
        module: ModuleType = pytest.importorskip(f"shouwang_{service}.metrics")
        for family in module.REGISTRY.collect():
            kind, base = family.type, family.name
            if kind == "counter":
                names |= {f"{base}_total", f"{base}_created"}
            elif kind == "histogram":
                names |= {f"{base}_bucket", f"{base}_sum", f"{base}_count", f"{base}_created"}
            else:
                names.add(base)
    return names


def _promql_expressions() -> list[str]:
    rules = _by_kind(_manifests(K8S / "components/monitoring"), "PrometheusRule")["shouwang"]
    exprs = [rule["expr"] for group in rules["spec"]["groups"] for rule in group["rules"]]
    dashboard = yaml.safe_load((DEPLOY / "grafana/shouwang.json").read_text(encoding="utf-8"))
    exprs += [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    return exprs


_KEYWORDS = {"or", "and", "unless", "bool", "offset"}


def _metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: strings, matchers, groupings and ranges removed."""
    expr = re.sub(r'"[^"]*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", "{}", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    expr = re.sub(r"\[[^\]]*\]", "[]", expr)
    found = re.findall(r"(?<![\w$.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", expr)
    return {name for name in found if name not in _KEYWORDS}


def _recorded() -> set[str]:
    rules = _by_kind(_manifests(K8S / "components/monitoring"), "PrometheusRule")["shouwang"]
    return {r["record"] for g in rules["spec"]["groups"] for r in g["rules"] if "record" in r}


def test_rules_and_dashboard_use_metrics_the_services_export() -> None:
    exported = _exported_metric_names()
    used = set().union(*(_metric_names(expr) for expr in _promql_expressions()))
    ours = {n for n in used if n.split("_")[0] in (*METRIC_SERVICES, "shouwang")}
    unknown = sorted(ours - exported)
    assert not unknown, f"not exported by any service: {unknown}"
    assert used - ours - _recorded() <= EXTERNAL_METRICS, sorted(used - ours - _recorded())
    assert {
        "triage_deadline_breaches_total",
        "casework_outbox_lag_seconds",
        "shouwang_consumer_lag",
        "stats_events_found",
    } <= ours


def test_alert_rules_cover_what_operators_must_hear_about() -> None:
    rules = _by_kind(_manifests(K8S / "components/monitoring"), "PrometheusRule")["shouwang"]
    alerts = {r["alert"]: r for g in rules["spec"]["groups"] for r in g["rules"] if "alert" in r}
    for needed in (
        "ShouwangServiceDown",
        "ShouwangServiceAbsent",
        "ShouwangDeploymentNotReady",
        "ShouwangKafkaUnreachable",
        "ShouwangKafkaBrokerDown",
        "ShouwangConsumerLagHigh",
        "ShouwangConsumerLagGrowing",
        "ShouwangConsumerStalled",
        "ShouwangDeadlineBreachedSevere",
        "ShouwangAlertEscalatedToTopOfLadder",
        "ShouwangCaseworkOutboxLag",
        "ShouwangTriageOutboxStuck",
        "ShouwangTriageBulkOutboxStuck",
        "ShouwangTriageBulkLaneAbsent",
        "ShouwangIntakeKafkaUnavailable",
        "ShouwangServerErrors",
        "ShouwangDeadLetters",
    ):
        assert needed in alerts
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8").lower()
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, name
        url = rule["annotations"]["runbook_url"]
        assert url.startswith("https://shouwang.example/deploy/README.md#"), name
        anchor = url.split("#", 1)[1]
        assert f"#### {anchor}" in readme.replace("#### `", "#### ").replace("`", ""), (
            f"{name}: runbook section {anchor} missing from deploy/README.md"
        )


# --- compose ------------------------------------------------------------------------------------------
COMPOSE_DOC = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
COMPOSE_VALUES = read_env_file(COMPOSE_ENV)


def _interpolate(value: object) -> str:
    """Compose's `${VAR}`, `${VAR:-default}` and `${VAR:?message}` against the example env file."""

    def one(match: re.Match[str]) -> str:
        name, op, rest = match.group(1), match.group(2), match.group(3)
        if name in COMPOSE_VALUES:
            return COMPOSE_VALUES[name]
        assert op != ":?", f"{name} is required but missing from {COMPOSE_ENV.name}"
        return rest or ""

    return re.sub(r"\$\{([A-Z0-9_]+)(?:(:[-?])([^}]*))?\}", one, str(value))


def test_compose_builds_from_dockerfiles_that_exist() -> None:
    builds = {n: s["build"] for n, s in COMPOSE_DOC["services"].items() if "build" in s}
    assert set(builds) == {"setup", *SERVICES}
    for name, build in builds.items():
        context = (DEPLOY / build["context"]).resolve()
        assert context == ROOT, f"{name} builds from the repository root"
        assert (context / build["dockerfile"]).is_file(), f"{build['dockerfile']} does not exist"
        if name == "setup":
            assert build["dockerfile"] == "tools/devstack/Dockerfile"
        elif name == "gateway":  # it builds the web app first
            assert build["dockerfile"] == "services/gateway/Dockerfile"
        else:  # every service from the one template, told which service and port
            assert build["dockerfile"] == "services/Dockerfile", name
            assert build["args"] == {"SERVICE": name, "PORT": str(REGISTRY[name].port)}, name


def test_the_service_image_template_names_no_service() -> None:
    dockerfile = (ROOT / "services/Dockerfile").read_text(encoding="utf-8")
    # The gateway's image builds the web app first (Node), so it has its own; no other may.
    own = {path.parent.name for path in ROOT.glob("services/*/Dockerfile")}
    assert own <= {"gateway"}, f"one template, not a copy per service: {sorted(own)}"
    for name in REGISTRY:
        assert name not in dockerfile, f"the template names {name}"
    for stage in dockerfile.split("\nFROM ")[1:]:
        assert "ARG SERVICE" in stage, "each stage declares the service it builds"
    copies = [line for line in dockerfile.splitlines() if line.startswith("COPY services/")]
    assert copies, "the template copies the service it builds"
    assert all("services/${SERVICE}" in line for line in copies), copies
    assert re.search(r"^USER 10001", dockerfile, re.MULTILINE)


def test_compose_runs_setup_first_and_hardens_every_service() -> None:
    services = COMPOSE_DOC["services"]
    assert services["kafka"]["image"] == "apache/kafka:4.1.1"
    assert re.fullmatch(r"postgres:17\.\d+(-\w+)?", services["postgres"]["image"])
    for name in ("kafka", "postgres"):
        assert services[name]["healthcheck"]["test"], name
        assert services["setup"]["depends_on"][name] == {"condition": "service_healthy"}
    command = " ".join(services["setup"]["command"])
    assert "shouwang-dev topics" in command
    for svc in SERVICES:
        assert f"shouwang-dev migrate {svc}" in command
    for name in ("setup", *SERVICES):
        service = services[name]
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
    for svc in SERVICES:
        service = services[svc]
        assert service["depends_on"]["setup"] == {"condition": "service_completed_successfully"}
        port = REGISTRY[svc].port
        assert service["ports"] == [f"127.0.0.1:{port}:{port}"]
        assert f"{port}/readyz" in " ".join(service["healthcheck"]["test"])


@pytest.mark.parametrize("service", SERVICES)
def test_compose_env_is_complete_and_accepted_by_the_service(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {k: _interpolate(v) for k, v in COMPOSE_DOC["services"][service]["environment"].items()}
    missing = _required_env(service, production=False) - env.keys()
    assert not missing, f"compose leaves {service} on built-in defaults for {sorted(missing)}"
    assert env["SHOUWANG_ENV"] == "local"
    assert env[f"{service.upper()}_PORT"] == str(REGISTRY[service].port)
    _isolate_env(monkeypatch, env)
    settings = _settings_class(service)()
    settings.note_cipher()
    settings.pseudonymizer()  # at least 32 bytes, or the service fails at startup
    settings.token_verifier()


def test_compose_secrets_are_local_placeholders_and_database_urls_match_setup() -> None:
    for key, value in COMPOSE_VALUES.items():
        if SECRETISH.search(key) and not key.endswith("DATABASE_URL"):
            assert "local" in value.lower(), f"{key} must read as a local placeholder"
    secret = COMPOSE_VALUES["SHOUWANG_DB_ROLE_SECRET"]
    for svc in SERVICES:
        url = COMPOSE_VALUES[f"{svc.upper()}_DATABASE_URL"]
        expected = f"postgresql://{svc}:{role_password(svc, secret)}@postgres:5432/shouwang"
        assert url == expected, f"{svc}: the URL must hold the password `migrate` derives"
    setup_env = COMPOSE_DOC["services"]["setup"]["environment"]
    assert _interpolate(setup_env["DATABASE_URL"]).endswith("@postgres:5432/shouwang")


def test_tools_image_ships_every_services_migrations() -> None:
    dockerfile = (ROOT / "tools/devstack/Dockerfile").read_text(encoding="utf-8")
    for migrations in sorted((ROOT / "services").glob("*/migrations")):
        svc = migrations.parent.name
        line = f"COPY services/{svc}/migrations /app/services/{svc}/migrations"
        assert line in dockerfile, f"tools image lacks {svc}'s migrations"
    assert "SHOUWANG_REPO_ROOT=/app" in dockerfile
    for script in ("create_topics.py", "wait_for_migrations.py"):
        assert f"COPY deploy/setup/{script} /app/bin/{script}" in dockerfile
    assert re.search(r"^USER 10001", dockerfile, re.MULTILINE)


# --- the rendered overlay (only where kubectl is installed) ---------------------------------------
@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_production_overlay_renders_with_kustomize() -> None:
    out = subprocess.run(
        ["kubectl", "kustomize", str(K8S / "overlays/production")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    docs = [d for d in yaml.safe_load_all(out.stdout) if d]
    assert {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"} == {
        "shouwang"
    }
    deployments = _by_kind(docs, "Deployment")
    for name, deployment in deployments.items():
        _check_pod(name, deployment["spec"]["template"]["spec"])
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            assert re.fullmatch(r".+/[a-z-]+:[\w.-]+", container["image"]), container["image"]
    assert "replicas" not in deployments["intake"]["spec"], "the HPA owns intake's replicas"
    # Split triage: together the two Deployments run every consumer triage has, each once.
    consumers = {}
    for name in ("triage", "triage-census"):
        (container,) = deployments[name]["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        consumers[name] = set(env["TRIAGE_CONSUMERS"].split(","))
    assert consumers["triage-census"] == {"census"}
    assert not consumers["triage"] & consumers["triage-census"]
    known = _settings_class("triage")(consumers="all").consumer_set
    assert consumers["triage"] | consumers["triage-census"] == set(known)
    # The network policies select Shouwang's pods by this label.
    for doc in docs:
        if doc["kind"] in {"Deployment", "Job"}:
            labels = doc["spec"]["template"]["metadata"]["labels"]
            assert labels.get("app.kubernetes.io/part-of") == "shouwang", doc["metadata"]["name"]
    kinds = {d["kind"] for d in docs}
    assert {"HorizontalPodAutoscaler", "NetworkPolicy", "ServiceMonitor", "PrometheusRule"} <= kinds
    dashboards = [d for d in docs if d["kind"] == "ConfigMap" and "shouwang.json" in d["data"]]
    assert dashboards
    assert dashboards[0]["metadata"]["labels"]["grafana_dashboard"] == "1"


# --- least secrets ------------------------------------------------------------------------------
def _secret_env_of(container: dict[str, Any]) -> set[str]:
    names = {e["name"] for e in container.get("env", []) if "valueFrom" in e}
    for source in container.get("envFrom", []):
        if "secretRef" in source:  # every key of a Secret: the very thing to avoid
            names.add(f"envFrom:{source['secretRef']['name']}")
    return names


def test_triage_is_never_handed_the_note_or_pseudonym_keys_it_does_not_use() -> None:
    # A compromised triage pod must not be able to open counselling notes or re-identify
    # students: it grades pseudonyms and never seals or opens a note.
    unused = {"SHOUWANG_NOTE_KEYS", "SHOUWANG_PSEUDONYM_KEY"}
    deployments = {
        name: d
        for name, d in _by_kind(_manifests(K8S), "Deployment").items()
        if name.startswith("triage")
    }
    assert deployments, "no triage Deployment found"
    for name, deployment in deployments.items():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            held = _secret_env_of(container)
            assert not held & unused, f"{name} is handed {sorted(held & unused)}"
            assert not any(n.startswith("envFrom:") for n in held), f"{name} takes a whole secret"
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    env = compose["services"]["triage"]["environment"]
    assert not set(env) & unused, f"compose hands triage {sorted(set(env) & unused)}"
