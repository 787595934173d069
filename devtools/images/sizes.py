"""The sizes of an image and of each of its layers, from ``buildah inspect --type image``.

Read from stdin, printed one layer a line with the Dockerfile step that made it: what `make
images` reports. Sizes are those of the layers as buildah stores them (uncompressed tar), the
size an image takes on a node's disk once pulled; a registry's compressed size is smaller.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any

MIB = 2**20


def report(name: str, inspected: Mapping[str, Any]) -> list[str]:
    """Lines: the total, then each layer's size and the step that made it."""
    manifest = json.loads(inspected["Manifest"])
    sizes = [int(layer["size"]) for layer in manifest["layers"]]
    history = inspected.get("OCIv1", {}).get("history") or []
    steps = [str(entry.get("created_by", "")) for entry in history if not entry.get("empty_layer")]
    steps += ["?"] * (len(sizes) - len(steps))
    lines = [f"{name}: {sum(sizes) / MIB:.1f} MiB in {len(sizes)} layers"]
    lines += [
        f"  {size / MIB:8.1f} MiB  {' '.join(step.split())[:110]}"
        for size, step in zip(sizes, steps, strict=False)
    ]
    return lines


def main() -> int:
    print("\n".join(report(sys.argv[1], json.load(sys.stdin))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
