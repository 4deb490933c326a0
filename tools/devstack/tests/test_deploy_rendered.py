"""`deploy/` as the reference tools read it, without Docker or a cluster.

- Compose: `deploy/compose.yaml` loaded by compose-go, the Compose specification's reference
  loader (schema, interpolation, merge), through `tools/deploycheck`; every present service,
  Kafka, PostgreSQL, the setup, Prometheus and Grafana are in it.
- Kubernetes: every overlay built by kustomize's API (`tools/deploycheck`); every built-in object
  valid against the Kubernetes JSON schemas (kubernetes-validate, strict: no unknown field);
  every operator's object against that operator's own CRD schema, read as the API server reads
  it (a field the schema does not declare is refused, as kubectl's strict field validation
  does): CloudNativePG's and the Prometheus Operator's CRD files from their Go modules (by the
  Go module proxy), Strimzi's as `@kubernetes-models/strimzi-kafka-operator` ships them,
  generated from Strimzi 1.0.0's CRDs (`tools/crdcheck`, Node, locked by its package-lock.json,
  installed by `make crdcheck`). Every present service runs; casework and notify with two
  replicas and a PodDisruptionBudget; the setup Job is named after the release so a new
  release re-runs it.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from shouwang_devstack.services import present_services


def _load(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
OVERLAYS = sorted(p.parent.name for p in (DEPLOY / "k8s/overlays").glob("*/kustomization.yaml"))
KUBERNETES_VERSION = "1.33.0"
# The operators' CRD files, from their Go modules: CloudNativePG 1.27 and Prometheus Operator 0.85.
CRD_MODULES = {
    "postgresql.cnpg.io": ("github.com/cloudnative-pg/cloudnative-pg@v1.27.0", "config/crd/bases"),
    "monitoring.coreos.com": (
        "github.com/prometheus-operator/prometheus-operator@v0.85.0",
        "example/prometheus-operator-crd",
    ),
}
# Strimzi's: compiled from its CRDs into an npm package, run by tools/crdcheck (Node).
STRIMZI = "kafka.strimzi.io"
CRDCHECK = ROOT / "tools/crdcheck"
OPERATOR_GROUPS = {*CRD_MODULES, STRIMZI}


def _go() -> str:
    go = shutil.which("go")
    assert go, "Go is needed to validate deploy/ (kustomize and compose-go): install golang"
    return go


@cache
def _deploycheck() -> Path:
    out = Path(tempfile.mkdtemp(prefix="shouwang-deploycheck-")) / "deploycheck"
    subprocess.run(
        [_go(), "build", "-o", str(out), "."],
        cwd=ROOT / "tools/deploycheck",
        check=True,
        timeout=900,
    )
    return out


def _run(*args: str) -> str:
    done = subprocess.run(
        [str(_deploycheck()), *args], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@cache
def _rendered(overlay: str) -> tuple[dict[str, Any], ...]:
    text = _run("kustomize", str(DEPLOY / "k8s/overlays" / overlay))
    return tuple(doc for doc in yaml.safe_load_all(text) if doc)


def _of(docs: tuple[dict[str, Any], ...], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


class _CRDLoader(yaml.SafeLoader):
    """PyYAML's safe loader, reading `=` (YAML 1.1's "value" tag, an enum value of the
    Prometheus Operator's label-matcher operators) as the string it is."""


_CRDLoader.add_constructor("tag:yaml.org,2002:value", yaml.SafeLoader.construct_yaml_str)


def _strict(schema: Any) -> Any:
    """A CRD schema as the API server applies it, for jsonschema: an object that declares its
    properties refuses any other (unless it preserves unknown fields or is a map), and
    `nullable` admits null."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _strict(value) for key, value in schema.items()}
    if (
        out.get("type") == "object"
        and isinstance(out.get("properties"), dict)
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    if out.get("nullable") is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


@cache
def _crd_schemas(group: str) -> dict[str, dict[str, Any]]:
    module, folder = CRD_MODULES[group]
    found = subprocess.run(
        [_go(), "mod", "download", "-json", module],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=ROOT / "tools/deploycheck",
    )
    assert found.returncode == 0, found.stdout + found.stderr
    crds = Path(json.loads(found.stdout)["Dir"]) / folder
    schemas = {}
    for path in crds.glob(f"{group}_*.yaml"):
        # A SafeLoader: it builds nothing but plain data.
        crd = yaml.load(path.read_text(encoding="utf-8"), _CRDLoader)  # noqa: S506
        for version in crd["spec"]["versions"]:
            if version.get("served", True):
                schema = _strict(version["schema"]["openAPIV3Schema"])
                schemas[f"{crd['spec']['names']['kind']}/{version['name']}"] = schema
    assert schemas, f"no {group} CRD in {crds}"
    return schemas


def _crdcheck(docs: list[dict[str, Any]]) -> list[str]:
    """Strimzi's objects through tools/crdcheck: one line per problem."""
    node = shutil.which("node")
    assert node, "Node is needed to validate Strimzi's objects: install nodejs"
    assert (CRDCHECK / "node_modules/.package-lock.json").exists(), "run: make crdcheck"
    done = subprocess.run(
        [node, "check.mjs"],
        input=json.dumps(docs),
        cwd=CRDCHECK,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    assert not done.stderr, done.stderr
    return done.stdout.splitlines()


def _dotted(path: Iterable[str | int]) -> str:
    """`spec.endpoints[0].port`, as tools/crdcheck writes paths."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else str(part)
    return out


def _problems(docs: Iterable[dict[str, Any]]) -> list[str]:
    """Every object against its schema: each problem as `Kind/name: path: message`."""
    problems: list[str] = []
    strimzi = []
    for doc in docs:
        group, _, version = doc["apiVersion"].rpartition("/")
        kind = doc["kind"]
        where = f"{kind}/{doc['metadata']['name']}"
        if group == STRIMZI:
            strimzi.append(doc)
            # The operators of a Strimzi cluster take only what is labelled with its name.
            if (
                kind != "Kafka"
                and doc["metadata"].get("labels", {}).get("strimzi.io/cluster") != "shouwang"
            ):
                problems.append(f"{where}: metadata.labels: strimzi.io/cluster is not shouwang")
        elif group in CRD_MODULES:
            schema = _crd_schemas(group).get(f"{kind}/{version}")
            if schema is None:
                problems.append(f"{where}: apiVersion: no {kind} served in {doc['apiVersion']}")
                continue
            for error in jsonschema.Draft202012Validator(schema).iter_errors(doc):
                path = _dotted(error.absolute_path) or "(object)"
                problems.append(f"{where}: {path}: {error.message}")
        else:
            try:
                kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
            except kubernetes_validate.ValidationError as exc:
                path = _dotted(exc.path) or "(object)"
                problems.append(f"{where}: {path}: {exc.message}")
    if strimzi:
        problems += _crdcheck(strimzi)
    return problems


def _present() -> list[str]:
    return [info.name for info in present_services(ROOT)]


# --- Compose --------------------------------------------------------------------------------------
def test_compose_loads_with_the_compose_specification_loader_and_runs_everything() -> None:
    project = json.loads(
        _run("compose", str(DEPLOY / "compose.yaml"), str(DEPLOY / "compose.env.example"))
    )
    services = project["services"]
    wanted = {*_present(), "kafka", "postgres", "setup", "prometheus", "grafana"}
    assert wanted <= set(services), sorted(wanted - set(services))
    command = " ".join(services["setup"]["command"])
    for name in _present():
        assert f"shouwang-dev migrate {name}" in command, name
        assert services[name]["depends_on"]["setup"]["condition"] == (
            "service_completed_successfully"
        )
    prometheus = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text("utf-8"))
    jobs = {job["job_name"] for job in prometheus["scrape_configs"]}
    assert set(_present()) <= jobs


def test_compose_rules_are_the_kubernetes_rules() -> None:
    module = _load(DEPLOY / "prometheus/build_rules.py")
    assert (DEPLOY / "prometheus/rules.yml").read_text("utf-8") == module.render(), (
        "stale: run uv run python deploy/prometheus/build_rules.py"
    )


# --- Kubernetes -----------------------------------------------------------------------------------
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_object_is_valid(overlay: str) -> None:
    docs = _rendered(overlay)
    assert docs
    problems = _problems(docs)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_runs_and_the_loop_survives_a_drain(overlay: str) -> None:
    docs = _rendered(overlay)
    deployments = _of(docs, "Deployment")
    assert set(_present()) <= set(deployments), sorted(set(_present()) - set(deployments))
    assert set(_present()) <= set(_of(docs, "Service"))
    budgets = {
        pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]: pdb
        for pdb in _of(docs, "PodDisruptionBudget").values()
    }
    for name in ("casework", "notify"):
        assert deployments[name]["spec"]["replicas"] >= 2, name
        assert budgets[name]["spec"]["minAvailable"] == 1, name
    for deployment in deployments.values():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            assert container["image"].startswith("registry."), container["image"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_setup_job_is_named_after_the_release_so_an_upgrade_reruns_it(overlay: str) -> None:
    docs = _rendered(overlay)
    (job,) = _of(docs, "Job").values()
    tools = {
        c["image"]
        for c in job["spec"]["template"]["spec"]["containers"]
        + job["spec"]["template"]["spec"]["initContainers"]
    }
    (image,) = tools
    assert job["metadata"]["name"] == f"shouwang-setup-{image.rsplit(':', 1)[1]}"
    assert job["spec"]["ttlSecondsAfterFinished"] > 0
    migrated = [c["command"][-1] for c in job["spec"]["template"]["spec"]["initContainers"]]
    migrated += [c["command"][-1] for c in job["spec"]["template"]["spec"]["containers"]]
    assert set(_present()) <= set(migrated)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kafka_by_strimzi_holds_every_topic_and_a_user_per_service(overlay: str) -> None:
    docs = _rendered(overlay)
    declared = yaml.safe_load(
        (ROOT / "libs/contracts/src/shouwang_contracts/topics.yaml").read_text("utf-8")
    )["topics"]
    topics = {t["spec"]["topicName"]: t for t in _of(docs, "KafkaTopic").values()}
    names = {spec["name"] for spec in declared.values()}
    assert set(topics) == names | {f"{n}.dlq" for n in names}
    for topic in topics.values():
        assert topic["spec"]["replicas"] == 3
        assert topic["spec"]["config"]["min.insync.replicas"] == 2
    users = _of(docs, "KafkaUser")
    assert {f"shouwang-{name}" for name in _present()} - {"shouwang-gateway"} <= set(users)
    # Each user's password is the one its pods read (an operator creates one Secret before
    # applying; Strimzi's own generated passwords never reached the pods), and the operators'
    # shouwang-admin exists for `shouwang-dlq --kafka-user shouwang-admin` (the runbook).
    assert "shouwang-admin" in users
    for name, user in users.items():
        ref = user["spec"]["authentication"]["password"]["valueFrom"]["secretKeyRef"]
        suffix = name.removeprefix("shouwang-").upper()
        assert ref == {"name": "shouwang-secrets", "key": f"KAFKA_SASL_PASSWORD_{suffix}"}
    (kafka,) = _of(docs, "Kafka").values()
    assert kafka["spec"]["kafka"]["config"]["min.insync.replicas"] == 2
    pools = _of(docs, "KafkaNodePool")
    assert pools["controllers"]["spec"]["roles"] == ["controller"]
    assert pools["brokers"]["spec"]["replicas"] >= 3


def test_strimzi_topics_and_users_are_what_the_generator_writes() -> None:
    path = DEPLOY / "k8s/components/kafka-strimzi/build_topics.py"
    module = _load(path)
    for filename in module.OUTPUTS:
        committed = (path.parent / filename).read_text("utf-8")
        assert committed == module.render(filename), f"stale {filename}: run {path.name}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_postgres_by_cloudnativepg_has_three_instances_and_nightly_backups(overlay: str) -> None:
    docs = _rendered(overlay)
    (cluster,) = _of(docs, "Cluster").values()
    assert cluster["spec"]["instances"] == 3
    assert cluster["spec"]["backup"]["barmanObjectStore"]["destinationPath"].startswith("s3://")
    (backup,) = _of(docs, "ScheduledBackup").values()
    assert backup["spec"]["cluster"]["name"] == cluster["metadata"]["name"]


def test_the_documented_restore_is_a_valid_cluster_from_the_backups() -> None:
    path = DEPLOY / "k8s/components/postgres-cnpg/restore-cluster.yaml"
    (restore,) = [d for d in yaml.safe_load_all(path.read_text("utf-8")) if d]
    assert not _problems([restore])
    source = restore["spec"]["bootstrap"]["recovery"]["source"]
    (external,) = [c for c in restore["spec"]["externalClusters"] if c["name"] == source]
    cluster = next(
        d
        for d in yaml.safe_load_all(
            (DEPLOY / "k8s/components/postgres-cnpg/cluster.yaml").read_text("utf-8")
        )
        if d["kind"] == "Cluster"
    )
    store = cluster["spec"]["backup"]["barmanObjectStore"]
    assert external["barmanObjectStore"]["destinationPath"] == store["destinationPath"]
    assert "Backup and restore" in (DEPLOY / "README.md").read_text("utf-8")


def test_a_builtin_object_with_a_misspelt_field_is_refused() -> None:
    bad = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "a", "image": "b"}], "restartPolisy": "Always"},
            },
        },
    }
    (problem,) = _problems([bad])
    assert problem.startswith("Deployment/x: spec.template.spec")
    assert "restartPolisy" in problem


# Per operator kind, three ways to break a shipped object: (path, field) of a wrong type, of a
# required field removed, and of an unknown field (a plausible misspelling) added.
_WRONG, _MISSING, _UNKNOWN = "wrong type", "missing", "unknown"
BREAKS: dict[str, list[tuple[str, tuple[str | int, ...], str, Any]]] = {
    "Kafka": [
        (_WRONG, ("spec", "kafka", "listeners", 0), "port", "9093"),
        (_MISSING, ("spec", "kafka"), "listeners", None),
        (_UNKNOWN, ("spec", "kafka"), "listener", []),
    ],
    "KafkaNodePool": [
        (_WRONG, ("spec",), "replicas", "3"),
        (_MISSING, ("spec",), "roles", None),
        (_UNKNOWN, ("spec", "storage", "volumes", 0), "deleteclaim", False),
    ],
    "KafkaTopic": [
        (_WRONG, ("spec",), "partitions", "6"),
        (_MISSING, (), "spec", None),
        (_UNKNOWN, ("spec",), "replica", 3),
    ],
    "KafkaUser": [
        (_WRONG, ("spec", "authorization", "acls", 0), "operations", "Read"),
        (_MISSING, ("spec", "authorization", "acls", 0), "resource", None),
        # v1beta2's singular form, gone from v1.
        (_UNKNOWN, ("spec", "authorization", "acls", 0), "operation", "Read"),
    ],
    "ServiceMonitor": [
        (_WRONG, ("spec", "endpoints", 0), "port", 8000),
        (_MISSING, ("spec",), "selector", None),
        (_UNKNOWN, ("spec", "endpoints", 0), "paht", "/metrics"),
    ],
    "PrometheusRule": [
        (_WRONG, ("spec", "groups", 0), "rules", "all"),
        (_MISSING, ("spec", "groups", 0), "name", None),
        (_UNKNOWN, ("spec", "groups", 0, "rules", 0), "alrt", "x"),
    ],
    "Cluster": [
        (_WRONG, ("spec",), "instances", "three"),
        (_MISSING, ("spec",), "instances", None),
        (_UNKNOWN, ("spec", "backup", "barmanObjectStore"), "destinationpath", "s3://x"),
    ],
    "Pooler": [
        (_WRONG, ("spec",), "instances", "2"),
        (_MISSING, ("spec",), "cluster", None),
        (_UNKNOWN, ("spec", "pgbouncer"), "poolmode", "session"),
    ],
    "ScheduledBackup": [
        (_WRONG, ("spec",), "schedule", 3),
        (_MISSING, ("spec",), "cluster", None),
        (_UNKNOWN, ("spec",), "clusterName", "x"),
    ],
}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_operator_kind_shipped_is_one_the_refusal_tests_break(overlay: str) -> None:
    shipped = {
        d["kind"] for d in _rendered(overlay) if d["apiVersion"].split("/")[0] in OPERATOR_GROUPS
    }
    assert shipped == set(BREAKS), sorted(shipped ^ set(BREAKS))


@pytest.mark.parametrize(
    ("kind", "how", "parent", "field", "value"),
    [(kind, *b) for kind, breaks in BREAKS.items() for b in breaks],
    ids=[f"{kind}-{b[0].replace(' ', '-')}" for kind, breaks in BREAKS.items() for b in breaks],
)
def test_an_operator_object_broken_is_refused_naming_it_and_the_path(
    kind: str, how: str, parent: tuple[str | int, ...], field: str, value: Any
) -> None:
    """Each operator kind the overlays ship is validated against a schema with teeth: the
    shipped object passes, and broken one way it is refused with its name and the path."""
    shipped = next(iter(_of(_rendered("production"), kind).values()))
    assert not _problems([shipped])
    broken = copy.deepcopy(shipped)
    node: Any = broken
    for key in parent:
        node = node[key]
    if how == _MISSING:
        del node[field]
    else:
        assert how == _UNKNOWN or field in node, f"{field} is not in the shipped {kind}"
        node[field] = value
    problems = _problems([broken])
    where = f"{kind}/{shipped['metadata']['name']}: {_dotted(parent) or '(object)'}"
    assert any(p.startswith(where) and field in p for p in problems), (where, field, problems)
