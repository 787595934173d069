"""The part of an admitted pod the webhook reads: what selection and injection work on.

Injection copies the pod it is given, and the JSON patch is the difference between that pod and
the injected one (:mod:`webhook.core.patch`), which python-json-patch finds by serialising every
list item it compares. Most of a pod is of no interest to the webhook (images, commands,
probes, resources, env, tolerations, volume sources...), yet copying and comparing it was the
largest single cost of a review. So admission (:mod:`webhook.admission`) works on this view of
the pod instead:

* at the top and in ``metadata`` and ``spec``: only the fields selection and injection read or
  write (:data:`METADATA`, :data:`SPEC`), each whole, in the pod's own order;
* in the lists injection extends (``initContainers``, ``containers``, ``volumes``): every item,
  in order, cut down to the fields that are read of it (:data:`ITEM_FIELDS`: names, and the
  ports the sidecar's metrics port must not collide with);
* anything that is not shaped as expected (a spec that is not an object, an item that is not an
  object...) as it came, so that injection refuses it exactly as it would refuse the pod.

Selection and injection therefore decide, warn and build the same from the view as from the pod,
and the patch is the same: injection only adds (an item at either end of a list, a member of
``annotations``, a list or ``annotations`` that was missing) and never changes what is there, so
the difference finds the same additions at the same places whether the items around them are
whole or cut down — they are cut down alike on both sides. The view shares the values it keeps
with the pod: neither is to be changed while the other is used.
``tests/webhook/core/test_pod_view.py`` checks all of this against the whole pod, over generated
pods.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

TOP: Final = frozenset({"apiVersion", "kind", "metadata", "spec"})
METADATA: Final = frozenset(
    {"name", "generateName", "namespace", "uid", "labels", "annotations", "ownerReferences"}
)
"""Names and namespace (logs, the owner lookup), labels and annotations (selection; injection
adds one annotation), the controller reference (the owner lookup)."""
SPEC: Final = frozenset(
    {"hostNetwork", "os", "nodeSelector", "initContainers", "containers", "volumes"}
)
"""``hostNetwork`` (the metrics port), ``os`` and ``nodeSelector`` (Windows pods), and the three
lists injection extends."""
ITEM_FIELDS: Final = {
    "initContainers": ("name", "ports"),
    "containers": ("name", "ports"),
    "volumes": ("name",),
}


def view(pod: Mapping[str, Any]) -> dict[str, Any]:
    """The view of ``pod`` described above; never raises, whatever the pod's shape."""
    return {key: _top(key, value) for key, value in pod.items() if key in TOP}


def _top(key: str, value: object) -> object:
    if not isinstance(value, Mapping):
        return value
    if key == "metadata":
        return {k: v for k, v in value.items() if k in METADATA}
    if key == "spec":
        return {k: _spec_field(k, v) for k, v in value.items() if k in SPEC}
    return value


def _spec_field(key: str, value: object) -> object:
    fields = ITEM_FIELDS.get(key)
    if fields is None or not isinstance(value, list):
        return value
    return [_item(item, fields) for item in value]


def _item(item: object, fields: tuple[str, ...]) -> object:
    if not isinstance(item, Mapping):
        return item
    return {k: v for k, v in item.items() if k in fields}
