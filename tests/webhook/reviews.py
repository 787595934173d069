"""AdmissionReviews for tests: a valid one as the API server sends it, and ways to break it."""

from __future__ import annotations

import json
import uuid
from typing import Any

from hypothesis import strategies as st

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


def valid_review(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": str(uuid.uuid4()),
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
            "requestResource": {"group": "", "version": "v1", "resource": "pods"},
            "name": "",
            "namespace": namespace,
            "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller"},
            "object": {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"generateName": "web-", "namespace": namespace},
                "spec": {"containers": [{"name": "app", "image": "registry.example/app:1.0"}]},
            },
            "oldObject": None,
            "dryRun": False,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        },
    }


PATHS = [
    (),
    ("apiVersion",),
    ("kind",),
    ("request",),
    ("request", "uid"),
    ("request", "resource"),
    ("request", "resource", "resource"),
    ("request", "operation"),
    ("request", "namespace"),
    ("request", "userInfo"),
    ("request", "object"),
    ("request", "object", "metadata"),
    ("request", "object", "metadata", "ownerReferences"),
    ("request", "object", "metadata", "labels"),
    ("request", "object", "spec"),
    ("request", "object", "spec", "containers"),
    ("request", "dryRun"),
    ("request", "subResource"),
]


@st.composite
def broken_reviews(draw: st.DrawFn, namespace: str = "fuzz") -> bytes:
    review: Any = valid_review(namespace)
    path = draw(st.sampled_from(PATHS))
    delete = draw(st.booleans())
    value = draw(json_values)
    if not path:
        review = value
    else:
        parent: Any = review
        for key in path[:-1]:
            parent = parent[key]
        if delete:
            parent.pop(path[-1], None)
        else:
            parent[path[-1]] = value
    return json.dumps(review).encode()
