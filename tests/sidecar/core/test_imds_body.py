"""Parsing IMDS bodies: valid shapes become values, anything else is ImdsMalformed, never worse."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sidecar.core import imds_body
from sidecar.core.imds_body import (
    ImdsMalformed,
    InstanceAction,
    interruption_from_instance_action,
    interruption_from_rebalance,
)
from sidecar.core.signals import Interruption, Kind, Source

PARSERS: list[Callable[[str], object]] = [
    imds_body.parse_instance_action,
    imds_body.parse_rebalance,
    imds_body.parse_instance_id,
    imds_body.parse_life_cycle,
    imds_body.parse_token,
]
SEEN = datetime(2026, 1, 2, 15, 0, 5, tzinfo=UTC)
EARLIEST = datetime(1000, 1, 1)  # noqa: DTZ001 -- Hypothesis takes naive bounds with timezones=

# Strings that look like IMDS bodies often enough to reach past the first check.
times = st.one_of(
    st.datetimes(timezones=st.just(UTC)).map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")),
    st.from_regex(
        r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
        r"(Z|[+-][0-9]{2}:[0-9]{2})\Z"
    ),
    st.text(max_size=30),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10) | times,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)
documents = st.fixed_dictionaries(
    {},
    optional={
        "action": st.sampled_from(["terminate", "stop", "hibernate", "", "Terminate"])
        | json_values,
        "time": times | json_values,
        "noticeTime": times | json_values,
    },
).map(json.dumps)
bodies = st.one_of(st.text(), documents, st.just("[" * 100_000), st.just("1" * 5000))


@pytest.mark.parametrize("parse", PARSERS, ids=lambda parse: parse.__name__)
@given(body=bodies)
def test_any_string_parses_to_a_value_or_raises_imds_malformed(
    parse: Callable[[str], object], body: str
) -> None:
    outcome = _outcome(lambda: parse(body))
    if isinstance(outcome, ImdsMalformed):
        assert outcome.path.startswith("/latest/")
        assert len(str(outcome)) < 400  # bodies are quoted truncated, whatever their size


@given(raw=st.binary())
def test_any_bytes_decode_to_text_or_raise_imds_malformed(raw: bytes) -> None:
    outcome = _outcome(lambda: imds_body.decode("/p", raw))
    if isinstance(outcome, ImdsMalformed):
        assert "not UTF-8" in str(outcome)
    else:
        assert outcome == raw.decode()


def _outcome(parse: Callable[[], object]) -> object:
    """What parsing returned, or the ImdsMalformed it raised; anything else propagates."""
    try:
        return parse()
    except ImdsMalformed as error:
        return error


@given(
    action=st.sampled_from(sorted(imds_body.ACTIONS)),
    moment=st.datetimes(min_value=EARLIEST, timezones=st.just(UTC)).map(
        lambda d: d.replace(microsecond=0)
    ),
    indent=st.sampled_from([None, "\t", 2]),
)
def test_every_documented_notice_parses_back_to_its_values(
    action: str, moment: datetime, indent: str | int | None
) -> None:
    body = json.dumps(
        {"action": action, "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ")}, indent=indent
    )
    assert imds_body.parse_instance_action(body) == InstanceAction(action, moment)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-02T15:04:05Z", datetime(2026, 1, 2, 15, 4, 5, tzinfo=UTC)),
        ("2026-01-02T17:04:05+02:00", datetime(2026, 1, 2, 15, 4, 5, tzinfo=UTC)),
        ("2026-01-02T15:04:05.250Z", datetime(2026, 1, 2, 15, 4, 5, 250000, tzinfo=UTC)),
    ],
)
def test_times_with_an_offset_become_aware_utc(text: str, expected: datetime) -> None:
    parsed = imds_body.parse_rebalance(json.dumps({"noticeTime": text}))
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("", "not JSON"),
        ("[]", "not a JSON object"),
        ('{"action": "terminate"}', "'time' is not an RFC 3339 time"),
        ('{"action": "terminate", "time": "2026-01-02T15:04:05"}', "RFC 3339"),
        ('{"action": "terminate", "time": "2026-02-30T15:04:05Z"}', "not a valid calendar time"),
        ('{"action": "terminate", "time": "0001-01-01T00:00:00+01:00"}', "calendar time"),
        ('{"action": "reboot", "time": "2026-01-02T15:04:05Z"}', "'action' is not one of"),
        ('{"time": "2026-01-02T15:04:05Z"}', "'action' is not one of"),
    ],
)
def test_a_notice_of_the_wrong_shape_says_what_is_wrong(body: str, problem: str) -> None:
    with pytest.raises(ImdsMalformed, match=problem) as caught:
        imds_body.parse_instance_action(body)
    assert caught.value.path == "/latest/meta-data/spot/instance-action"


def test_extra_keys_in_a_notice_are_ignored() -> None:
    body = '{"action": "hibernate", "time": "2026-01-02T15:04:05Z", "new": 1}'
    assert imds_body.parse_instance_action(body).action == "hibernate"


@pytest.mark.parametrize("body", ["i-0123abcd", "i-0123456789abcdef0"])
def test_instance_ids_old_and_new_are_accepted(body: str) -> None:
    assert imds_body.parse_instance_id(body) == body


@pytest.mark.parametrize(
    "body", ["", "i-", "i-XYZ12345", "0123456789", "i-0123abcd\n", " i-0123abcd"]
)
def test_anything_else_is_not_an_instance_id(body: str) -> None:
    with pytest.raises(ImdsMalformed, match="instance id"):
        imds_body.parse_instance_id(body)


@pytest.mark.parametrize("body", ["spot", "on-demand", "scheduled", "capacity-block"])
def test_purchasing_options_are_accepted_as_named(body: str) -> None:
    assert imds_body.parse_life_cycle(body) == body


def test_an_instance_action_becomes_an_interruption_with_its_deadline() -> None:
    deadline = datetime(2026, 1, 2, 15, 2, tzinfo=UTC)
    signal = interruption_from_instance_action(
        InstanceAction("terminate", deadline), node="ip-10-0-0-1", seen_at=SEEN
    )
    assert signal == Interruption(
        node="ip-10-0-0-1",
        source=Source.IMDS_INSTANCE_ACTION,
        kind=Kind.INTERRUPTION,
        seen_at=SEEN,
        action="terminate",
        deadline=deadline,
        detail="spot instance-action terminate at 2026-01-02T15:02:00+00:00",
    )


def test_a_rebalance_becomes_a_rebalance_signal_without_a_deadline() -> None:
    notice_time = SEEN - timedelta(seconds=5)
    signal = interruption_from_rebalance(notice_time, node="n", seen_at=SEEN)
    assert (signal.source, signal.kind, signal.deadline, signal.action) == (
        Source.IMDS_REBALANCE,
        Kind.REBALANCE,
        None,
        None,
    )
    assert signal.detail == "rebalance recommended at 2026-01-02T15:00:00+00:00"


def test_a_time_with_another_offset_is_converted_not_relabelled() -> None:
    tokyo = timezone(timedelta(hours=9))
    parsed = imds_body.parse_rebalance('{"noticeTime": "2026-01-03T00:00:00+09:00"}')
    assert parsed == datetime(2026, 1, 3, 0, 0, tzinfo=tokyo)
    assert parsed.hour == 15
