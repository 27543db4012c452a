"""What an SRE deploys (infra/): Kubernetes manifests validated against the Kubernetes schemas
offline (kubernetes-validate ships them), KEDA's objects against the fields KEDA's CRDs require,
the systemd unit with `systemd-analyze verify`, and the figures they must hold."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "infra" / "k8s"
KUBERNETES_VERSION = "1.30.0"
# The parts of KEDA v2's ScaledObject and TriggerAuthentication CRDs (keda.sh_scaledobjects.yaml,
# keda.sh_triggerauthentications.yaml) that these manifests use: required fields and their types.
_TRIGGER = {
    "type": "object",
    "required": ["type", "metadata"],
    "properties": {
        "type": {"enum": ["redis", "prometheus"]},
        "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
        "authenticationRef": {"type": "object", "required": ["name"]},
    },
}
KEDA_SCHEMAS: dict[str, dict[str, Any]] = {
    "ScaledObject": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "keda.sh/v1alpha1"},
            "spec": {
                "type": "object",
                "required": ["scaleTargetRef", "triggers"],
                "additionalProperties": False,
                "properties": {
                    "scaleTargetRef": {"type": "object", "required": ["name"]},
                    "pollingInterval": {"type": "integer"},
                    "cooldownPeriod": {"type": "integer"},
                    "minReplicaCount": {"type": "integer"},
                    "maxReplicaCount": {"type": "integer"},
                    "advanced": {"type": "object"},
                    "triggers": {"type": "array", "minItems": 1, "items": _TRIGGER},
                },
            },
        },
    },
    "TriggerAuthentication": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "keda.sh/v1alpha1"},
            "spec": {
                "type": "object",
                "properties": {
                    "secretTargetRef": {
                        "type": "array",
                        "items": {"type": "object", "required": ["parameter", "name", "key"]},
                    }
                },
            },
        },
    },
}


def _documents() -> list[dict[str, Any]]:
    found = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        found += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return found


def _one(kind: str) -> dict[str, Any]:
    (found,) = [doc for doc in _documents() if doc["kind"] == kind and doc["metadata"]["name"] == "parsefleet-worker"]
    return found


def test_every_kubernetes_manifest_is_valid_against_the_schemas() -> None:
    documents = _documents()
    kinds = {doc["kind"] for doc in documents}
    assert {"Deployment", "PodDisruptionBudget", "ScaledObject", "TriggerAuthentication", "Service"} <= kinds
    for doc in documents:
        if doc["kind"] in KEDA_SCHEMAS:
            jsonschema.validate(doc, KEDA_SCHEMAS[doc["kind"]])
        else:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_validation_catches_a_broken_manifest() -> None:
    deployment = _one("Deployment")
    deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = "soon"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)
    scaled = _one("ScaledObject")
    scaled["spec"]["triggers"][0].pop("metadata")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(scaled, KEDA_SCHEMAS["ScaledObject"])


def test_worker_pods_hold_the_caps_probe_the_heartbeat_and_drain_within_their_grace() -> None:
    deployment = _one("Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (worker,) = pod["containers"]
    env = {item["name"]: item.get("value") for item in worker["env"]}
    assert worker["resources"]["limits"] == {"cpu": "700m", "memory": "512Mi"}
    assert worker["livenessProbe"]["exec"]["command"] == ["parsefleet", "worker-probe"]
    assert worker["startupProbe"]["exec"]["command"] == ["parsefleet", "worker-probe"]
    assert pod["terminationGracePeriodSeconds"] > float(env["PARSEFLEET_BATCH_TIME_LIMIT_S"] or 0) > 0
    assert float(env["PARSEFLEET_BATCH_TIME_LIMIT_S"] or 0) < float(env["PARSEFLEET_VISIBILITY_TIMEOUT_S"] or 0)
    budget = _one("PodDisruptionBudget")
    assert budget["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    assert budget["spec"]["maxUnavailable"] == 1


def test_keda_scales_on_the_advised_workers_and_wakes_on_queue_length() -> None:
    scaled = _one("ScaledObject")
    assert scaled["spec"]["scaleTargetRef"]["name"] == _one("Deployment")["metadata"]["name"]
    triggers = scaled["spec"]["triggers"]
    advised = [t for t in triggers if t["type"] == "prometheus"]
    assert [t["metadata"]["query"] for t in advised] == ["max(parsefleet_advised_workers)"]
    assert advised[0]["metadata"]["threshold"] == "1"
    lists = {t["metadata"]["listName"] for t in triggers if t["type"] == "redis"}
    assert lists == {"parsefleet.python", "parsefleet.go", "parsefleet.rust"}
    mapping = yaml.safe_load((ROOT / "infra" / "statsd" / "mapping.yml").read_text())
    assert "parsefleet_advised_workers" in {item["name"] for item in mapping["mappings"]}


def test_alert_rules_parse_and_name_the_operations_gauges() -> None:
    rules = yaml.safe_load((ROOT / "infra" / "prometheus" / "alerts.yml").read_text())["groups"][0]["rules"]
    names = {rule["alert"]: rule["expr"] for rule in rules}
    assert "parsefleet_workers_stalled" in names["ParsefleetWorkerStalled"]
    assert "parsefleet_workers_alive" in names["ParsefleetBacklogWithoutWorkers"]


def _verify(unit: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """systemd-analyze verify on a copy whose ExecStart points at this checkout's virtualenv (verify
    requires the program to exist; the unit names /opt/parsefleet/venv)."""
    venv = Path(os.environ.get("VIRTUAL_ENV") or ROOT / ".venv")
    text = unit.read_text().replace("/opt/parsefleet/venv", str(venv))
    copy = tmp_path / unit.name
    copy.write_text(text)
    instance = tmp_path / unit.name.replace("@.", "@1.")
    return subprocess.run(
        ["systemd-analyze", "verify", str(instance)], capture_output=True, text=True, timeout=60, check=False
    )


def test_systemd_unit_verifies_and_holds_the_caps(tmp_path: Path) -> None:
    unit = ROOT / "infra" / "systemd" / "parsefleet-worker@.service"
    text = unit.read_text()
    assert "\nMemoryMax=512M\n" in text and "\nCPUQuota=70%\n" in text and "\nKillMode=mixed\n" in text
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed here (no systemd): the unit is checked by its text only")
    done = _verify(unit, tmp_path)
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / unit.name).write_text(text.replace("MemoryMax=512M", "MemoryMax=512 megabytes"))
    refused = _verify(broken / unit.name, broken)
    assert "Invalid memory limit" in refused.stderr  # verify does read the values
