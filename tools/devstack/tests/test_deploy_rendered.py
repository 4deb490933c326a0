"""`deploy/` as the reference tools read it, without Docker or a cluster.

- Compose: `deploy/compose.yaml` loaded by compose-go, the Compose specification's reference
  loader (schema, interpolation, merge), through `tools/deploycheck`; every present service,
  Kafka, PostgreSQL, the setup, Prometheus and Grafana are in it.
- Kubernetes: every overlay built by kustomize's API (`tools/deploycheck`); every built-in object
  valid against the Kubernetes JSON schemas (kubernetes-validate, strict: no unknown field);
  CloudNativePG objects against the operator's own CRD schemas (its Go module, by the Go module
  proxy); Strimzi objects against the fields Strimzi's documentation requires (its CRD files
  are in no Go module or Maven artifact reachable here). Every present service runs; casework
  and notify with two replicas and a PodDisruptionBudget; the setup Job is named after the
  release so a new release re-runs it.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import tempfile
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
CNPG_MODULE = "github.com/cloudnative-pg/cloudnative-pg@v1.27.0"
# Fields Strimzi's documentation (strimzi.io/docs/operators/latest/configuring) requires.
STRIMZI_REQUIRED = {
    "Kafka": [("spec", "kafka", "listeners"), ("spec", "kafka", "version")],
    "KafkaNodePool": [("spec", "replicas"), ("spec", "roles"), ("spec", "storage", "type")],
    "KafkaTopic": [("spec", "topicName"), ("spec", "partitions"), ("spec", "replicas")],
    "KafkaUser": [("spec", "authentication", "type"), ("spec", "authorization", "acls")],
}
# monitoring.coreos.com (the Prometheus Operator): their required fields, likewise.
MONITORING_REQUIRED = {
    "ServiceMonitor": [("spec", "selector"), ("spec", "endpoints")],
    "PrometheusRule": [("spec", "groups")],
}


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


@cache
def _cnpg_schemas() -> dict[str, dict[str, Any]]:
    found = subprocess.run(
        [_go(), "mod", "download", "-json", CNPG_MODULE],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=ROOT / "tools/deploycheck",
    )
    assert found.returncode == 0, found.stdout + found.stderr
    crds = Path(json.loads(found.stdout)["Dir"]) / "config/crd/bases"
    schemas = {}
    for path in crds.glob("postgresql.cnpg.io_*.yaml"):
        crd = yaml.safe_load(path.read_text(encoding="utf-8"))
        for version in crd["spec"]["versions"]:
            schemas[f"{crd['spec']['names']['kind']}/{version['name']}"] = version["schema"][
                "openAPIV3Schema"
            ]
    return schemas


def _present() -> list[str]:
    return [info.name for info in present_services(ROOT)]


def _validate(doc: dict[str, Any]) -> None:
    group, _, version = doc["apiVersion"].rpartition("/")
    kind = doc["kind"]
    where = f"{kind}/{doc['metadata']['name']}"
    if group == "postgresql.cnpg.io":
        schema = _cnpg_schemas()[f"{kind}/{version}"]
        jsonschema.validate(doc, schema)
    elif group == "kafka.strimzi.io":
        for path in STRIMZI_REQUIRED[kind]:
            node: Any = doc
            for key in path:
                assert key in node, f"{where}: {'.'.join(path)} is required"
                node = node[key]
        labels = doc["metadata"].get("labels", {})
        assert kind == "Kafka" or labels.get("strimzi.io/cluster") == "shouwang", where
    elif group == "monitoring.coreos.com":
        for path in MONITORING_REQUIRED[kind]:
            node = doc
            for key in path:
                assert key in node, f"{where}: {'.'.join(path)} is required"
                node = node[key]
    else:
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            raise AssertionError(f"{where}: {exc.message} at {list(exc.path)}") from exc


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
    for doc in docs:
        _validate(doc)


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
    _validate(restore)
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


def test_an_invalid_object_is_refused() -> None:
    """The validation can fail: a Deployment with a misspelt field does."""
    bad = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containerz": []}},
        },
    }
    with pytest.raises(AssertionError):
        _validate(bad)
    cluster = {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "x"}}
    cluster["spec"] = {"instances": "three"}
    with pytest.raises(jsonschema.ValidationError):
        _validate(cluster)
