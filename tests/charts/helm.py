"""The chart as helm renders it, with the pinned helm built by devtools/helm/build.sh."""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "spot-failover"
BUILD_SCRIPT = ROOT / "devtools" / "helm" / "build.sh"
RELEASE = "spot-failover"
NAMESPACE = "spot-failover"


@functools.cache
def helm_binary() -> Path:
    """The pinned helm; built on first use (minutes), found in the cache afterwards."""
    result = subprocess.run(
        ["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, check=False, timeout=3600
    )
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip().splitlines()[-1])


@functools.cache
def _home() -> Path:
    """helm's cache, config and data directories: a throwaway one, never the user's."""
    home = Path(tempfile.mkdtemp(prefix="spot-failover-helm-"))
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    return home


def helm(
    *args: str, kubeconfig: Path | None = None, check: bool = True, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run helm with its state in a throwaway directory (and ``kubeconfig``'s cluster, if any)."""
    home = _home()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
        "KUBECONFIG": str(kubeconfig) if kubeconfig is not None else str(home / "no-kubeconfig"),
    }
    result = subprocess.run(
        [str(helm_binary()), *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=timeout,
    )
    if check:
        assert result.returncode == 0, f"helm {' '.join(args)}:\n{result.stderr}"
    return result


def set_flags(values: Mapping[str, object]) -> list[str]:
    """``--set-json`` flags for dotted keys: ``{"webhook.replicas": 0}``."""
    flags: list[str] = []
    for key, value in values.items():
        flags += ["--set-json", f"{key}={json.dumps(value)}"]
    return flags


def template_args(
    values: Mapping[str, object] | None = None, namespace: str = NAMESPACE
) -> list[str]:
    return [RELEASE, str(CHART), "--namespace", namespace, *set_flags(values or {})]


def render_text(values: Mapping[str, object] | None = None, namespace: str = NAMESPACE) -> str:
    return helm("template", *template_args(values, namespace)).stdout


def render(
    values: Mapping[str, object] | None = None, namespace: str = NAMESPACE
) -> list[dict[str, Any]]:
    """``helm template`` of the chart with ``values`` (dotted keys), as objects."""
    return documents(render_text(values, namespace))


def render_refused(values: Mapping[str, object]) -> str:
    """What helm says when it refuses to render the chart with ``values``."""
    result = helm("template", *template_args(values), check=False)
    assert result.returncode != 0, "helm rendered values it should have refused"
    return result.stderr


def documents(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def find(objects: Iterable[Mapping[str, Any]], kind: str, name: str | None = None) -> Any:
    """The one object of ``kind`` (and ``name``)."""
    (found,) = [
        obj
        for obj in objects
        if obj["kind"] == kind and (name is None or obj["metadata"]["name"] == name)
    ]
    return found


def kinds_and_names(objects: Iterable[Mapping[str, Any]]) -> set[tuple[str, str]]:
    return {(obj["kind"], obj["metadata"]["name"]) for obj in objects}


def container_env(deployment: Mapping[str, Any]) -> dict[str, str]:
    """The environment of the Deployment's one container, name -> value (variables from the
    downward API left out)."""
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {item["name"]: item["value"] for item in container.get("env", []) if "value" in item}


def values_file() -> dict[str, Any]:
    """values.yaml as written (null settings included, which helm itself drops)."""
    loaded: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    return loaded


def lint(*flags: str) -> subprocess.CompletedProcess[str]:
    return helm("lint", "--strict", str(CHART), *flags, check=False)


def chart_metadata() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CHART / "Chart.yaml").read_text())
    return loaded
