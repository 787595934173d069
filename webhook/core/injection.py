"""The pod the webhook admits: the app's pod plus the spot-failover sidecar, as plain data.

This is the only place that knows what the injected container looks like. It is pure: the pod
comes in as Kubernetes JSON (camelCase dicts), a new pod goes out, the input is never mutated,
and the same input always gives the same output (golden files pin it). Whether to inject at all
is :mod:`webhook.core.selection`'s question; what may be injected (image, resources, settings)
is :mod:`webhook.core.injection_config`'s. The JSON patch the API server receives is derived
from this function's result: admission (:mod:`webhook.admission`) injects the view of the pod
(:mod:`webhook.core.pod_view`), and :mod:`webhook.core.patch` takes the difference of the two.

Decisions, each explained where it is implemented:

* native sidecar (restartable init container, placed first) or classic container (appended);
* the sidecar always gets its own projected ServiceAccount token, also when the pod says
  ``automountServiceAccountToken: false``;
* ``hostNetwork`` pods get the sidecar with its metrics endpoint disabled;
* a per-Deployment image override that is not an image reference is ignored, with a warning;
* names that would collide with the pod's (volume, port name, port number) never make the pod
  invalid: we pick another volume name, drop the port name, or disable metrics, and warn.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Final

from spot_common import contract
from webhook.core.injection_config import InjectionConfig, valid_image_reference

SERVICE_ACCOUNT_MOUNT_PATH: Final = "/var/run/secrets/kubernetes.io/serviceaccount"
API_ACCESS_VOLUME: Final = "spot-failover-api-access"
TOKEN_EXPIRATION_SECONDS: Final = 3600
"""The kubelet refreshes a projected token at 80 % of its life; clients must re-read the file."""
METRICS_PORT_NAME: Final = "spot-failover"
SIDECAR_UID: Final = 65532
"""The conventional "nonroot" user of distroless images."""


class InvalidPodError(ValueError):
    """The admitted object is not shaped like a pod (no spec, containers not a list...)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Injected:
    """The pod to admit and what the user should hear about it."""

    pod: dict[str, Any]
    warnings: tuple[str, ...] = ()


def has_sidecar(pod: Mapping[str, Any]) -> bool:
    """True if a container or init container already has the sidecar's name."""
    spec = _as_mapping(pod.get("spec"))
    return any(
        isinstance(container, Mapping) and container.get("name") == contract.SIDECAR_CONTAINER
        for key in ("initContainers", "containers")
        for container in _as_list(spec.get(key))
    )


def inject(
    pod: Mapping[str, Any],
    deployment_name: str,
    deployment_annotations: Mapping[str, str],
    config: InjectionConfig,
) -> Injected:
    """The pod with the sidecar added; unchanged (a copy) if it already has one.

    With ``config.native_sidecar`` the sidecar is an init container with ``restartPolicy:
    Always``, placed first among the init containers. That makes it start before any other init
    container and the app, run alongside the app with its own restarts, and be stopped only after
    the app containers have exited. The last point matters most: the sidecar starts the very
    rollout that terminates its pod, and must keep working (recording the move, releasing its
    Lease) while the pod is terminating. Being a sidecar, it never holds a pod open either (a
    Job completes without waiting for it). Otherwise it is appended to the containers, after the
    app, so that tools that default to the first container keep picking the app.
    """
    if not deployment_name:
        raise ValueError("deployment_name must not be empty")
    result = _plain(pod)
    if not isinstance(result, dict):
        raise InvalidPodError("the admitted object is not a JSON object")
    if has_sidecar(result):
        return Injected(result)
    spec = result.get("spec")
    if not isinstance(spec, dict):
        raise InvalidPodError("the pod has no spec")
    for key in ("containers", "initContainers", "volumes"):
        if spec.get(key) is not None and not isinstance(spec[key], list):
            raise InvalidPodError(f"spec.{key} is not a list")
    warnings: list[str] = []
    image = _image(deployment_annotations, config, warnings)
    port, port_name = _metrics_port(spec, config, warnings)
    volume = _free_volume_name(spec)
    sidecar = _container(
        image=image,
        deployment_name=deployment_name,
        port=port,
        port_name=port_name,
        volume=volume,
        config=config,
    )
    spec["volumes"] = [*(spec.get("volumes") or ()), _token_volume(volume)]
    if config.native_sidecar:
        spec["initContainers"] = [sidecar, *(spec.get("initContainers") or ())]
    else:
        spec["containers"] = [*(spec.get("containers") or ()), sidecar]
    metadata = result.get("metadata")
    if not isinstance(metadata, dict):
        metadata = result["metadata"] = {}
    annotations = metadata.get("annotations") or {}
    metadata["annotations"] = {**annotations, contract.INJECTED: config.version}
    return Injected(result, tuple(warnings))


def _image(annotations: Mapping[str, str], config: InjectionConfig, warnings: list[str]) -> str:
    override = annotations.get(contract.SIDECAR_IMAGE)
    if override is None:
        return config.image
    if valid_image_reference(override):
        return override
    warnings.append(
        f"Deployment annotation {contract.SIDECAR_IMAGE}={override[:200]!r} is not an image "
        f"reference; injected the default image {config.image}. Set it to a reference such as "
        "registry.example.com/spot-failover/sidecar:1.2.3, or remove it."
    )
    return config.image


def _metrics_port(
    spec: Mapping[str, Any], config: InjectionConfig, warnings: list[str]
) -> tuple[int, str | None]:
    """The port to serve metrics on (0: none) and its name (``None``: unnamed).

    In a ``hostNetwork`` pod a container port is a port of the node: two such pods of different
    Deployments on one node would fight over it, and it could clash with the node's own services.
    Such pods get no metrics endpoint; the sidecar still runs and reports. Elsewhere, a port an
    app container declares is not taken from it: metrics are disabled, with a warning.
    """
    if spec.get("hostNetwork") is True or config.metrics_port == 0:
        return 0, None
    declared = [
        (str(container.get("name", "")), port)
        for key in ("initContainers", "containers")
        for container in _as_list(spec.get(key))
        if isinstance(container, Mapping)
        for port in _as_list(container.get("ports"))
        if isinstance(port, Mapping)
    ]
    for container_name, port in declared:
        if port.get("containerPort") == config.metrics_port:
            warnings.append(
                f"container {container_name} declares port {config.metrics_port}, the sidecar's "
                "metrics port: sidecar metrics are disabled in this pod. Configure the webhook "
                "with another metrics port to get them back."
            )
            return 0, None
    if any(port.get("name") == METRICS_PORT_NAME for _, port in declared):
        warnings.append(
            f"a container already declares a port named {METRICS_PORT_NAME}: "
            "the sidecar's metrics port is left unnamed"
        )
        return config.metrics_port, None
    return config.metrics_port, METRICS_PORT_NAME


def _free_volume_name(spec: Mapping[str, Any]) -> str:
    volumes = _as_list(spec.get("volumes"))
    taken = {volume.get("name") for volume in volumes if isinstance(volume, Mapping)}
    candidates = (
        API_ACCESS_VOLUME,
        *(f"{API_ACCESS_VOLUME}-{n}" for n in range(2, len(taken) + 3)),
    )
    return next(name for name in candidates if name not in taken)


def _token_volume(name: str) -> dict[str, Any]:
    """The sidecar's own API credentials, mounted into the sidecar only.

    The sidecar cannot work without the API (it patches its Deployment and holds a Lease), and
    at admission we cannot tell whether the built-in token will reach it: the pod or its
    ServiceAccount (which we do not see) may disable automounting. So the sidecar always gets
    this projected volume, the same three files the built-in one holds, at the standard path.
    Where the pod opted out of automounting, this is a deliberate exception limited to the
    sidecar: the app containers still get no token, and the Deployment owner asked for the
    sidecar by opting in. The identity is the pod's own ServiceAccount either way.
    """
    namespace_ref = {"apiVersion": "v1", "fieldPath": "metadata.namespace"}
    return {
        "name": name,
        "projected": {
            "sources": [
                {
                    "serviceAccountToken": {
                        "path": "token",
                        "expirationSeconds": TOKEN_EXPIRATION_SECONDS,
                    }
                },
                {
                    "configMap": {
                        "name": "kube-root-ca.crt",
                        "items": [{"key": "ca.crt", "path": "ca.crt"}],
                    }
                },
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": namespace_ref}]}},
            ]
        },
    }


def _container(
    *,
    image: str,
    deployment_name: str,
    port: int,
    port_name: str | None,
    volume: str,
    config: InjectionConfig,
) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": contract.SIDECAR_CONTAINER,
        "image": image,
        "imagePullPolicy": str(config.image_pull_policy),
    }
    if config.native_sidecar:
        container["restartPolicy"] = "Always"
    container["env"] = [
        _field_env(contract.ENV_POD_NAME, "metadata.name"),
        _field_env(contract.ENV_NAMESPACE, "metadata.namespace"),
        _field_env(contract.ENV_NODE_NAME, "spec.nodeName"),
        {"name": contract.ENV_DEPLOYMENT, "value": deployment_name},
        *({"name": name, "value": value} for name, value in config.extra_env.items()),
        {"name": contract.ENV_METRICS_PORT, "value": str(port)},
    ]
    if port:
        declared: dict[str, Any] = {"name": port_name} if port_name else {}
        container["ports"] = [{**declared, "containerPort": port, "protocol": "TCP"}]
    container["resources"] = config.resources.as_dict()
    container["securityContext"] = {
        "runAsNonRoot": True,
        "runAsUser": SIDECAR_UID,
        "runAsGroup": SIDECAR_UID,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    container["volumeMounts"] = [
        {"name": volume, "mountPath": SERVICE_ACCOUNT_MOUNT_PATH, "readOnly": True}
    ]
    container["terminationMessagePolicy"] = "FallbackToLogsOnError"
    return container


def _field_env(name: str, field_path: str) -> dict[str, Any]:
    return {
        "name": name,
        "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": field_path}},
    }


_SCALARS: Final = (str, int, float, bool, type(None))


def _plain(value: object) -> object:
    """A deep copy as plain dicts and lists, whatever Mapping or Sequence came in.

    JSON's own types are told first by their exact type: a pod decoded from JSON is nothing
    else, and asking ``isinstance`` of the abstract ``Mapping`` costs more than the copy."""
    if type(value) in _SCALARS:
        return value
    if type(value) is dict:
        return {str(key): _plain(item) for key, item in value.items()}
    if type(value) is list:
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _as_mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []
