"""Properties from the original plan that span modules: structured logging completeness,
rollout monitoring accuracy and health check reliability."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from sidecar.core import health, rollout
from spot_common import logs
from spot_common.contract import ComputeType

_FIELD = st.from_regex(r"[a-z][a-z_]{2,11}", fullmatch=True).filter(
    lambda name: (
        name not in logging.LogRecord("", 0, "", 0, "", None, None).__dict__
        and name not in {"message", "asctime", "time", "level", "logger", "program"}
    )
)
_VALUE = st.one_of(st.text(max_size=30), st.integers(), st.booleans(), st.none())


@given(message=st.text(max_size=60), fields=st.dictionaries(_FIELD, _VALUE, max_size=5))
def test_every_log_line_is_one_json_object_with_every_field(
    message: str, fields: dict[str, Any]
) -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        logs.configure("INFO", program="spot-failover-sidecar")
        handler = root.handlers[0]
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(stream)
        logging.getLogger("sidecar.test").warning(message, extra=fields)
    finally:
        root.handlers[:], root.level = saved

    (line,) = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["message"] == message
    assert record["level"] == "WARNING"
    assert record["program"] == "spot-failover-sidecar"
    assert {k: record[k] for k in fields} == fields


_COUNT = st.integers(min_value=0, max_value=5)


@given(
    replicas=_COUNT,
    generation=st.integers(min_value=1, max_value=3),
    observed=st.integers(min_value=0, max_value=3),
    updated=_COUNT,
    total=_COUNT,
    available=_COUNT,
    deadline_exceeded=st.booleans(),
)
def test_the_rollout_verdict_is_complete_exactly_when_kubectl_would_say_so(
    *,
    replicas: int,
    generation: int,
    observed: int,
    updated: int,
    total: int,
    available: int,
    deadline_exceeded: bool,
) -> None:
    conditions = (
        [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]
        if deadline_exceeded
        else []
    )
    deployment = {
        "metadata": {"generation": generation},
        "spec": {"replicas": replicas},
        "status": {
            "observedGeneration": observed,
            "updatedReplicas": updated,
            "replicas": total,
            "availableReplicas": available,
            "conditions": conditions,
        },
    }

    verdict = rollout.status(deployment)

    observed_latest = observed >= generation
    if observed_latest and deadline_exceeded:
        assert isinstance(verdict, rollout.Failed)
    elif observed_latest and updated >= replicas and total <= updated and available >= updated:
        assert isinstance(verdict, rollout.Complete)
    else:
        assert isinstance(verdict, rollout.Progressing)


_POD = st.fixed_dictionaries(
    {"ready": st.booleans(), "fargate": st.booleans(), "current": st.booleans()}
)


@given(pods=st.lists(_POD, max_size=6), replicas=st.integers(min_value=1, max_value=4))
def test_pods_are_healthy_only_when_enough_current_pods_are_ready_where_expected(
    pods: list[dict[str, bool]], replicas: int
) -> None:
    objects = [
        {
            "metadata": {
                "name": f"p{i}",
                "labels": {"pod-template-hash": "new" if p["current"] else "old"},
            },
            "spec": {"nodeName": "fargate-ip-1" if p["fargate"] else "spot-0"},
            "status": {"conditions": [{"type": "Ready", "status": str(p["ready"])}]},
        }
        for i, p in enumerate(pods)
    ]
    nodes = {
        "fargate-ip-1": {"eks.amazonaws.com/compute-type": "fargate"},
        "spot-0": {"eks.amazonaws.com/capacityType": "SPOT"},
    }

    verdict = health.pods_verdict(
        objects, nodes, expected=ComputeType.FARGATE, replicas=replicas, template_hash="new"
    )

    current = [p for p in pods if p["current"]]
    if any(not p["fargate"] for p in current):
        assert isinstance(verdict, health.Unhealthy)
    elif sum(p["ready"] for p in current) >= replicas:
        assert isinstance(verdict, health.Healthy)
    else:
        assert isinstance(verdict, health.NotYet)
