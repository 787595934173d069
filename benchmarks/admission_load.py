"""The load generator of the admission benchmark: AdmissionReview POSTs at a fixed rate, open loop.

Runs as its own process (``python -m benchmarks.admission_load SPEC OUT``), pinned to a CPU the
webhook does not use, so that generating load does not take time from the process measured.

Open loop: request ``i`` is due at ``start + i / rate`` whatever happened to the ones before,
and its latency is measured from that due time to the end of its response. A webhook that
falls behind therefore shows its queueing in the figures instead of slowing the generator
down (no coordinated omission). Requests go over a small pool of persistent TLS connections;
a request due while every connection is busy waits for one, and that wait counts too.

SPEC is JSON: ``url``, ``ca_file``, ``rate``, ``warmup_s``, ``duration_s``, ``connections``,
``cpu`` (or null), and ``reviews``: a list of ``{"kind", "body", "weight"}``, each body an
AdmissionReview whose ``request.uid`` is :data:`UID_PLACEHOLDER` (a fresh uid per request).
OUT gets one record per measured request and the window's wall-clock bounds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import random
import ssl
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Final

import aiohttp

UID_PLACEHOLDER: Final = "00000000-0000-0000-0000-000000000000"
OPTED_IN: Final = "opted_in"
"""Reviews of pods that must come back with a patch; every other kind must come back without."""


@dataclasses.dataclass(frozen=True)
class Outcome:
    kind: str
    due: float
    latency_s: float
    ok: bool
    error: str = ""


def schedule(reviews: list[dict[str, Any]], count: int) -> list[int]:
    """Which review each request sends: the kinds interleaved in proportion to their weights."""
    cycle = [index for index, review in enumerate(reviews) for _ in range(int(review["weight"]))]
    random.Random(0).shuffle(cycle)  # noqa: S311 - an interleaving, not a secret
    return [cycle[i % len(cycle)] for i in range(count)]


def check_answer(answer: Any, uid: str, kind: str) -> str:
    """Empty if ``answer`` is a correct review for a request of ``kind``, else what is wrong."""
    response = answer.get("response") if isinstance(answer, dict) else None
    if not isinstance(response, dict):
        return "no response"
    if response.get("uid") != uid:
        return "wrong uid"
    if response.get("allowed") is not True:
        return "not allowed"
    if response.get("warnings"):
        return f"warnings: {str(response['warnings'])[:200]}"
    if (kind == OPTED_IN) != bool(response.get("patch")):
        return "patch missing" if kind == OPTED_IN else "unexpected patch"
    return ""


async def _one(
    session: aiohttp.ClientSession, url: str, body: str, kind: str, due: float
) -> Outcome:
    uid = str(uuid.uuid4())
    loop = asyncio.get_running_loop()
    try:
        async with session.post(
            url,
            data=body.replace(UID_PLACEHOLDER, uid).encode(),
            headers={"Content-Type": "application/json"},
        ) as answer:
            text = await answer.read()
            latency = loop.time() - due
            if answer.status != 200:
                return Outcome(kind, due, latency, ok=False, error=f"HTTP {answer.status}")
            problem = check_answer(json.loads(text), uid, kind)
            return Outcome(kind, due, latency, ok=not problem, error=problem)
    except (aiohttp.ClientError, TimeoutError, ValueError) as error:
        return Outcome(kind, due, loop.time() - due, ok=False, error=repr(error)[:200])


async def generate(spec: dict[str, Any]) -> dict[str, Any]:
    context = ssl.create_default_context(cafile=spec["ca_file"])
    connector = aiohttp.TCPConnector(
        ssl=context, limit=int(spec["connections"]), keepalive_timeout=120
    )
    reviews = spec["reviews"]
    rate = float(spec["rate"])
    warmup = int(float(spec["warmup_s"]) * rate)
    count = warmup + int(float(spec["duration_s"]) * rate)
    which = schedule(reviews, count)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        loop = asyncio.get_running_loop()
        wall_minus_loop = time.time() - loop.time()
        start = loop.time() + 0.2
        tasks = []
        for i in range(count):
            due = start + i / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            review = reviews[which[i]]
            tasks.append(
                asyncio.create_task(_one(session, spec["url"], review["body"], review["kind"], due))
            )
        outcomes = await asyncio.gather(*tasks)
        finished = loop.time()
    measured = outcomes[warmup:]
    window_start = start + warmup / rate
    return {
        "window_start_unix": wall_minus_loop + window_start,
        "window_end_unix": wall_minus_loop + finished,
        "sent": len(measured),
        "achieved_rate": len(measured) / (finished - window_start),
        "outcomes": [dataclasses.asdict(o) for o in measured],
    }


def main(argv: list[str]) -> int:
    spec_path, out_path = (Path(arg) for arg in argv)
    spec = json.loads(spec_path.read_text())
    if spec.get("cpu") is not None:
        os.sched_setaffinity(0, {int(spec["cpu"])})
    result = asyncio.run(generate(spec))
    out_path.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
