"""The gateway as the cluster runs it (`deploy/k8s/base/gateway.yaml`) sees each browser's
address, which its sign-in limits and notify's /ack limits are kept by."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

BASE = Path(__file__).resolve().parents[4] / "deploy" / "k8s" / "base"


def _env(service: str) -> dict[str, Any]:
    for document in yaml.safe_load_all((BASE / f"{service}.yaml").read_text("utf-8")):
        if document and document.get("kind") == "Deployment":
            (container,) = [
                c
                for c in document["spec"]["template"]["spec"]["containers"]
                if c["name"] == service
            ]
            return {e["name"]: e.get("value") for e in container.get("env", [])}
    raise AssertionError(f"no Deployment in {service}.yaml")


def test_behind_the_ingress_one_client_cannot_spend_every_browsers_address_limit() -> None:
    """The threat: the gateway's uvicorn trusted X-Forwarded-For from 127.0.0.1 only (its
    default), and browsers reach it through the ingress controller, another pod: every
    browser was the controller's address. One client failing sign-ins from anywhere then
    held every person's sign-in at 429 (the per-address limit), and one client flooding
    /ack/ spent notify's per-address allowance for every staff member confirming an alert
    (the gateway passes the address it saw). The Deployment trusts the pod network, as
    notify's trusts the gateway."""
    gateway = _env("gateway")
    assert gateway.get("FORWARDED_ALLOW_IPS") not in (None, "", "127.0.0.1")
    assert gateway["FORWARDED_ALLOW_IPS"] == _env("notify")["FORWARDED_ALLOW_IPS"]
    # Never "*": a browser able to reach a pod directly would choose its own address.
    assert "*" not in gateway["FORWARDED_ALLOW_IPS"]
