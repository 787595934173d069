"""ServiceAccount tokens bound to a pod, exactly as the kubelet would mount them."""

from __future__ import annotations

from typing import Any

from kubernetes import client


def pod_bound_token(
    api: client.ApiClient,
    namespace: str,
    service_account: str,
    pod_name: str,
    expiration_s: int = 3600,
) -> str:
    """A TokenRequest for ``service_account`` bound to the pod ``pod_name`` (its UID is looked up).

    The token dies with the pod, like the projected token a kubelet mounts, so RBAC and
    admission policies that look at ``authentication.kubernetes.io/pod-name`` see the real thing.
    """
    core = client.CoreV1Api(api)
    pod = core.read_namespaced_pod(pod_name, namespace)
    body: dict[str, Any] = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {
            "audiences": [],
            "expirationSeconds": expiration_s,
            "boundObjectRef": {
                "apiVersion": "v1",
                "kind": "Pod",
                "name": pod_name,
                "uid": pod.metadata.uid,
            },
        },
    }
    response = core.create_namespaced_service_account_token(service_account, namespace, body)
    token: str = response.status.token
    return token
