"""`make images` reports each image's size and each layer's, with the step that made it."""

from __future__ import annotations

import json

from devtools.images.sizes import report


def test_each_layer_is_reported_with_the_step_that_made_it_and_the_total_first() -> None:
    inspected = {
        "Manifest": json.dumps({"layers": [{"size": 3 * 2**20}, {"size": 2**19}]}),
        "OCIv1": {
            "history": [
                {"created_by": "debootstrap bookworm"},
                {"created_by": "ENV PATH=/opt/venv/bin", "empty_layer": True},
                {"created_by": "COPY   dir:abc in /opt/venv"},
            ]
        },
    }

    lines = report("localhost/spot-failover-sidecar:0.1.0", inspected)

    assert lines == [
        "localhost/spot-failover-sidecar:0.1.0: 3.5 MiB in 2 layers",
        "       3.0 MiB  debootstrap bookworm",
        "       0.5 MiB  COPY dir:abc in /opt/venv",
    ]


def test_layers_without_history_are_still_counted() -> None:
    inspected = {"Manifest": json.dumps({"layers": [{"size": 2**20}]}), "OCIv1": {}}

    assert report("x", inspected) == ["x: 1.0 MiB in 1 layers", "       1.0 MiB  ?"]
