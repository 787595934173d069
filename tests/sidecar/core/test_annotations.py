"""Reading a Deployment: user annotations strictly, the durable state faithfully."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sidecar.core.annotations import DeploymentView, Notice, transition_body
from sidecar.core.errors import CorruptStateError, InvalidValueError, MalformedObjectError
from sidecar.core.history import HistoryEntry, append, dump_history, parse_history
from sidecar.core.overrides import Overrides, parse_label_pairs
from spot_common import contract
from spot_common.contract import ComputeType, State
from tests.sidecar.core.builders import NOW, deployment, interruption, state_annotations


def test_a_fresh_opted_in_deployment_is_watching_on_spot() -> None:
    view = DeploymentView.parse(deployment())
    assert view.state is State.WATCHING
    assert view.compute_type is ComputeType.SPOT
    assert view.last_transition is None
    assert view.overrides == Overrides(enabled=True)
    assert (view.name, view.namespace, view.replicas) == ("web", "shop", 3)


def test_user_annotations_are_read() -> None:
    overrides = Overrides.parse(
        {
            contract.ENABLED: "true",
            contract.PAUSED: "FALSE",
            contract.FARGATE_LABELS: "compute=fargate, team=web",
            contract.FARGATE_PROFILE: "web-profile",
            contract.HEALTH_URL: "https://web.shop.svc:8443/healthz",
            contract.FAILBACK_AFTER: "1h30m",
            contract.REBALANCE_TRIGGER: "true",
            contract.DISRUPTION_TRIGGER: "False",
        }
    )
    assert overrides.enabled
    assert not overrides.paused
    assert overrides.fargate_labels == {"compute": "fargate", "team": "web"}
    assert overrides.fargate_profile == "web-profile"
    assert overrides.health_url == "https://web.shop.svc:8443/healthz"
    assert overrides.failback_after == timedelta(hours=1, minutes=30)
    assert overrides.rebalance_trigger is True
    assert overrides.disruption_trigger is False


@pytest.mark.parametrize(
    ("key", "value", "hint"),
    [
        (contract.ENABLED, "yes", '"true" or "false"'),
        (contract.PAUSED, "1", '"true" or "false"'),
        (contract.REBALANCE_TRIGGER, "", '"true" or "false"'),
        (contract.DISRUPTION_TRIGGER, "yes", '"true" or "false"'),
        (contract.FARGATE_LABELS, "compute", "key=value"),
        (contract.FARGATE_LABELS, "", "key=value"),
        (contract.FARGATE_LABELS, "a=b,,c=d", "key=value"),
        (contract.FARGATE_LABELS, "a=b,a=c", "appears twice"),
        (contract.FARGATE_LABELS, "bad key=x", "valid label key"),
        (contract.FARGATE_LABELS, "Example.com/x=y", "valid label key"),
        (contract.FARGATE_LABELS, "a=-x-", "valid label value"),
        (contract.FARGATE_LABELS, "a=" + "x" * 64, "valid label value"),
        (contract.FARGATE_PROFILE, "", "valid label value"),
        (contract.FARGATE_PROFILE, "my profile", "valid label value"),
        (contract.HEALTH_URL, "web:8080/healthz", "http(s) URL"),
        (contract.HEALTH_URL, "ftp://web/healthz", "http(s) URL"),
        (contract.FAILBACK_AFTER, "ten minutes", '"10m"'),
    ],
)
def test_a_bad_user_annotation_names_itself_and_what_to_set(
    key: str, value: str, hint: str
) -> None:
    with pytest.raises(InvalidValueError) as caught:
        DeploymentView.parse(deployment(annotations={key: value}))
    assert caught.value.source == key
    assert key in str(caught.value)
    assert hint in str(caught.value)


def test_prefixed_label_keys_and_empty_values_are_valid() -> None:
    pairs = parse_label_pairs("example.com/pool=serverless,spot-failover/fargate=", source="x")
    assert pairs == {"example.com/pool": "serverless", "spot-failover/fargate": ""}


def test_the_durable_state_is_read_back() -> None:
    entry = HistoryEntry(NOW, State.WATCHING, State.MIGRATING, "MigratingToFargate: x", "web-1")
    marks = state_annotations(State.MIGRATING, compute_type=ComputeType.FARGATE, saved="{}")
    marks[contract.HISTORY] = dump_history([entry])
    marks[contract.NOTICE] = Notice.of(interruption()).to_json()
    marks[contract.MESSAGE] = "moving"
    view = DeploymentView.parse(deployment(annotations=marks))
    assert view.state is State.MIGRATING
    assert view.compute_type is ComputeType.FARGATE
    assert view.last_transition == NOW
    assert view.history == (entry,)
    assert view.notice == Notice.of(interruption())
    assert view.saved_scheduling == "{}"
    assert view.message == "moving"


def test_a_missing_compute_type_is_implied_by_the_state() -> None:
    marks = state_annotations(State.ON_FARGATE)
    assert DeploymentView.parse(deployment(annotations=marks)).compute_type is ComputeType.FARGATE


@pytest.mark.parametrize(
    ("marks", "key"),
    [
        ({contract.STATE: "Sleeping"}, contract.STATE),
        ({contract.STATE: "OnFargate"}, contract.LAST_TRANSITION),
        ({contract.LAST_TRANSITION: "yesterday"}, contract.LAST_TRANSITION),
        ({contract.COMPUTE_TYPE: "gpu"}, contract.COMPUTE_TYPE),
        ({contract.HISTORY: "{}"}, contract.HISTORY),
        ({contract.HISTORY: "[1]"}, contract.HISTORY),
        (
            {
                contract.HISTORY: json.dumps(
                    [{"time": "x", "from": "a", "to": "b", "reason": "", "by": ""}]
                )
            },
            contract.HISTORY,
        ),
        ({contract.NOTICE: "[]"}, contract.NOTICE),
        (
            {
                contract.NOTICE: json.dumps(
                    {
                        "node": "n",
                        "source": "s",
                        "kind": "meteor",
                        "action": None,
                        "time": "2026-01-02T15:04:05Z",
                    }
                )
            },
            contract.NOTICE,
        ),
    ],
)
def test_a_corrupt_state_annotation_is_a_typed_error_naming_it(
    marks: dict[str, str], key: str
) -> None:
    with pytest.raises(CorruptStateError) as caught:
        DeploymentView.parse(deployment(annotations=marks))
    assert caught.value.annotation == key


def test_a_deployment_without_a_name_is_malformed() -> None:
    body = deployment()
    del body["metadata"]["name"]
    with pytest.raises(MalformedObjectError, match=r"metadata\.name"):
        DeploymentView.parse(body)


def test_a_write_must_be_conditional() -> None:
    body = deployment()
    del body["metadata"]["resourceVersion"]
    with pytest.raises(MalformedObjectError, match="resourceVersion"):
        transition_body(
            DeploymentView.parse(body),
            state=State.FAILED,
            compute_type=ComputeType.SPOT,
            now=NOW,
            message="m",
            history=(),
            saved_scheduling=None,
            notice=None,
        )


def test_the_same_signal_is_the_same_node_and_kind_whatever_the_source() -> None:
    notice = Notice.of(interruption("n1"))
    assert notice.same_signal(interruption("n1"))
    assert not notice.same_signal(interruption("n2"))
    assert Notice.from_json(notice.to_json()) == notice


def test_history_stays_bounded_and_keeps_the_newest() -> None:
    history: tuple[HistoryEntry, ...] = ()
    for minute in range(3 * contract.HISTORY_LIMIT):
        entry = HistoryEntry(
            NOW + timedelta(minutes=minute), State.WATCHING, State.MIGRATING, str(minute), "p"
        )
        history = append(history, entry)
        assert len(history) <= contract.HISTORY_LIMIT
    assert [e.reason for e in history][-1] == str(3 * contract.HISTORY_LIMIT - 1)
    assert parse_history(dump_history(history)) == history


def test_a_long_history_reason_is_clipped() -> None:
    entry = HistoryEntry(NOW, State.WATCHING, State.FAILED, "x" * 5000, "p")
    (stored,) = json.loads(dump_history([entry]))
    assert len(stored["reason"]) == 300


@pytest.mark.parametrize("kind", [["interruption"], {"a": 1}, 3, None])
def test_a_notice_whose_kind_is_not_a_string_is_corrupt_state(kind: object) -> None:
    document = json.loads(Notice.of(interruption()).to_json())
    document["kind"] = kind

    with pytest.raises(CorruptStateError, match=contract.NOTICE):
        Notice.from_json(json.dumps(document))


def _json_containers(children: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.lists(children) | st.dictionaries(
        st.sampled_from(["node", "source", "kind", "action", "time", "x"]), children
    )


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(), _json_containers))
def test_any_json_is_a_notice_or_corrupt_state(document: object) -> None:
    try:
        notice = Notice.from_json(json.dumps(document))
    except CorruptStateError:
        return
    assert Notice.from_json(notice.to_json()) == notice
