"""The move's rollout strategy: every replacement at once, the user's back exactly after."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sidecar.core import strategy
from sidecar.core.errors import CorruptStateError, MalformedObjectError
from sidecar.core.strategy import Change
from spot_common import contract

FAST = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "100%", "maxUnavailable": 0}}
DEFAULTS = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}
RECREATE = {"type": "Recreate"}


def rolling(surge: int | str, unavailable: int | str) -> dict[str, Any]:
    return {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable},
    }


@pytest.mark.parametrize(
    ("written", "form"),
    [
        (DEFAULTS, "RollingUpdate:25%:25%"),
        (rolling(1, 0), "RollingUpdate:1:0"),
        (rolling("1%", 0), "RollingUpdate:1%:0"),
        (FAST, contract.MOVE_STRATEGY),
        (RECREATE, "Recreate"),
        ({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 2}}, "RollingUpdate:2:"),
    ],
)
def test_a_strategy_has_one_compact_form_that_decodes_to_it(written: Any, form: str) -> None:
    assert strategy.encode(written) == form
    assert strategy.decode(form) == written


def test_an_integer_and_a_percentage_stay_apart() -> None:
    assert strategy.encode(rolling(1, 0)) != strategy.encode(rolling("1%", 0))


@pytest.mark.parametrize("text", ["", "Recreate:1:0", "RollingUpdate:1", "RollingUpdate:x:0", "a"])
def test_a_saved_strategy_that_is_no_strategy_is_a_corrupt_state(text: str) -> None:
    with pytest.raises(CorruptStateError, match=contract.SAVED_STRATEGY):
        strategy.decode(text)


def test_a_strategy_value_of_the_wrong_type_is_a_malformed_object() -> None:
    with pytest.raises(MalformedObjectError, match="rollingUpdate"):
        strategy.encode(rolling(True, 0))


def test_a_move_starts_every_replacement_at_once_and_saves_the_default_strategy() -> None:
    assert strategy.for_move(DEFAULTS) == Change(strategy=FAST, saved="RollingUpdate:25%:25%")


def test_a_strategy_that_already_is_the_moves_is_left_alone() -> None:
    assert strategy.for_move(FAST) is None


def test_recreate_is_kept_and_the_user_is_told_that_the_move_means_downtime() -> None:
    assert strategy.for_move(RECREATE) is None
    warning = strategy.downtime_warning(RECREATE, "Fargate")
    assert warning is not None
    assert "downtime" in warning
    assert "Recreate" in warning
    assert strategy.downtime_warning(DEFAULTS, "Fargate") is None


def test_the_end_of_a_move_restores_what_was_saved() -> None:
    assert strategy.restored(FAST, "RollingUpdate:25%:25%") == Change(DEFAULTS, saved=None)


def test_a_strategy_the_user_wrote_during_the_move_is_kept() -> None:
    assert strategy.restored(rolling(3, 1), "RollingUpdate:25%:25%") == Change(None, saved=None)


def test_a_move_that_changed_nothing_has_nothing_to_restore() -> None:
    assert strategy.restored(FAST, None) is None
    assert strategy.restored(RECREATE, None) is None


def test_a_strategy_fitted_to_a_quota_is_restored_too() -> None:
    fitted = rolling("100%", 2)
    assert strategy.restored(fitted, "RollingUpdate:1:0") == Change(rolling(1, 0), saved=None)
    assert strategy.restored(fitted, None) == Change(FAST, saved=None), "the user's was the move's"


def test_a_quota_fit_lets_the_doomed_pods_go_and_keeps_the_saved_strategy() -> None:
    change = strategy.within_quota(replicas=3, doomed=2, saved="RollingUpdate:25%:25%")
    assert change == Change(rolling("100%", 2), saved="RollingUpdate:25%:25%")


@pytest.mark.parametrize(
    ("replicas", "doomed", "unavailable"), [(3, 0, 1), (3, 1, 1), (3, 3, 3), (3, 7, 3), (0, 0, 1)]
)
def test_a_quota_fit_lets_at_least_one_pod_and_at_most_all_go(
    replicas: int, doomed: int, unavailable: int
) -> None:
    change = strategy.within_quota(replicas, doomed, None)
    assert change.strategy == rolling("100%", unavailable)
    assert strategy.is_moves(change.strategy)


QUOTA = (
    'pods "web-7d9f-x" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=3, '
    "limited: pods=3"
)


def status_with(*conditions: dict[str, str]) -> dict[str, Any]:
    return {"status": {"conditions": list(conditions)}}


def test_a_quota_that_refuses_pods_is_read_from_the_replica_failure_condition() -> None:
    failure = {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate"}
    assert strategy.quota_refusal(status_with({**failure, "message": QUOTA})) == QUOTA
    assert strategy.quota_refusal(status_with({**failure, "message": "no nodes"})) is None
    refused_no_more = {**failure, "status": "False", "message": QUOTA}
    assert strategy.quota_refusal(status_with(refused_no_more)) is None
    assert strategy.quota_refusal({}) is None


# --- properties -------------------------------------------------------------------------------

amounts = st.one_of(st.integers(0, 500), st.integers(0, 100).map(lambda n: f"{n}%"))
strategies = st.one_of(
    st.just(RECREATE),
    st.builds(rolling, amounts, amounts),
)


@given(strategies)
def test_restoring_after_a_move_gives_the_strategy_back(written: dict[str, Any]) -> None:
    change = strategy.for_move(written)
    during = written if change is None or change.strategy is None else change.strategy
    saved = None if change is None else change.saved
    ending = strategy.restored(during, saved)
    after = during if ending is None or ending.strategy is None else ending.strategy
    assert after == written
    assert ending is None or ending.saved is None, "nothing stays saved after the move"


@given(strategies, st.integers(1, 50), st.integers(0, 50))
def test_restoring_after_a_quota_fit_gives_the_strategy_back(
    written: dict[str, Any], replicas: int, doomed: int
) -> None:
    change = strategy.for_move(written)
    if change is None:
        return  # Recreate or already the move's: a fit applies only to the move's own
    fitted = strategy.within_quota(replicas, doomed, change.saved)
    ending = strategy.restored(fitted.strategy or {}, fitted.saved)
    assert ending is not None
    assert ending.strategy == written


@given(strategies, strategies)
def test_a_strategy_the_user_writes_during_the_move_survives_its_end(
    written: dict[str, Any], theirs: dict[str, Any]
) -> None:
    if strategy.is_moves(theirs):
        return  # indistinguishable from the move's own: documented
    change = strategy.for_move(written)
    ending = strategy.restored(theirs, None if change is None else change.saved)
    assert ending is None or ending.strategy is None


@given(strategies)
def test_every_form_decodes_to_the_strategy_it_came_from(written: dict[str, Any]) -> None:
    assert strategy.decode(strategy.encode(written)) == written
