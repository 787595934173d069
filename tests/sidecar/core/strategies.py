"""Hypothesis strategies for pod templates and Fargate targets.

Keys are drawn from small pools that overlap on purpose: the Fargate labels collide with
existing labels (same or different value), nodeSelector and toleration keys mix EC2 keys with
others, and any map may be absent, empty or full, so every branch of the move and its undo
is exercised.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from sidecar.core.fargate import COMPUTE_TYPE_KEY, DEFAULT_EC2_KEYS, FARGATE_PROFILE_LABEL

EC2_KEYS = sorted(DEFAULT_EC2_KEYS)
OTHER_NODE_KEYS = ["kubernetes.io/os", "topology.kubernetes.io/zone", "dedicated"]
LABEL_KEYS = ["app", "team", "spot-failover/fargate", FARGATE_PROFILE_LABEL, "tier"]
LABEL_VALUES = ["", "web", "true", "false", "p1", "default"]

label_values = st.sampled_from(LABEL_VALUES)
labels = st.dictionaries(st.sampled_from(LABEL_KEYS), label_values, max_size=4)
node_selector = st.dictionaries(
    st.sampled_from(EC2_KEYS + OTHER_NODE_KEYS), label_values, max_size=4
)
toleration = st.fixed_dictionaries(
    {"key": st.sampled_from(EC2_KEYS + OTHER_NODE_KEYS)},
    optional={
        "operator": st.sampled_from(["Equal", "Exists"]),
        "value": label_values,
        "effect": st.sampled_from(["NoSchedule", "NoExecute"]),
    },
)
node_affinity = st.fixed_dictionaries(
    {},
    optional={
        "requiredDuringSchedulingIgnoredDuringExecution": st.just(
            {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": EC2_KEYS[0], "operator": "In", "values": ["x"]}]}
                ]
            }
        ),
        "preferredDuringSchedulingIgnoredDuringExecution": st.just([]),
    },
)
affinity = st.fixed_dictionaries(
    {},
    optional={
        "nodeAffinity": node_affinity,
        "podAntiAffinity": st.just({"preferredDuringSchedulingIgnoredDuringExecution": []}),
    },
)
container = st.fixed_dictionaries(
    {"name": st.sampled_from(["web", "worker"]), "image": st.sampled_from(["nginx:1", "app:2"])},
    optional={
        "env": st.just([{"name": "MODE", "value": "prod"}]),
        "resources": st.just({"requests": {"cpu": "100m"}}),
    },
)
template_annotations = st.dictionaries(
    st.sampled_from([COMPUTE_TYPE_KEY, "prometheus.io/scrape", "example.com/note"]),
    st.sampled_from(["ec2", "fargate", "true"]),
    max_size=3,
)
spec = st.fixed_dictionaries(
    {"containers": st.lists(container, min_size=1, max_size=2)},
    optional={
        "nodeSelector": node_selector,
        "affinity": affinity,
        "tolerations": st.lists(toleration, max_size=4),
        "priorityClassName": st.just("high"),
        "terminationGracePeriodSeconds": st.integers(0, 120),
    },
)
metadata: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries(
    {}, optional={"labels": labels, "annotations": template_annotations}
)
templates: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries(
    {"spec": spec}, optional={"metadata": metadata}
)
"""Pod templates, including ones without metadata or without labels."""

fargate_labels = st.dictionaries(
    st.sampled_from(LABEL_KEYS), st.sampled_from(["true", "web", "fargate", ""]), max_size=3
)
profiles = st.none() | st.sampled_from(["p1", "default"])
ec2_keys = st.just(frozenset(EC2_KEYS)) | st.frozensets(st.sampled_from(EC2_KEYS + OTHER_NODE_KEYS))
