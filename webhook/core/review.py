"""Is this HTTP body an AdmissionReview we can answer? Pure checks, and the answers we build.

The API server always sends well-formed reviews; anything else reaching the endpoint (a
misconfigured client, a scanner, a bug) gets HTTP 400 with a message that names what is wrong.
Checks are the fields an admission review must have to be answered (the uid, the resource, the
operation, the requester, the object of a pod CREATE); everything else in the review is left
untouched.

Bodies are decoded by orjson, which reads JSON strictly as the API server writes it (no
``NaN``, no unpaired surrogate escapes, at most 1024 levels deep); anything else is refused.

A well-formed review that the webhook does not handle (not a pod, not CREATE, a subresource) is
answered "allowed, unchanged" with a warning: it means the webhook configuration routes more
than it should, which must not block anything. Every answer allows the pod; the answer of an
injected pod carries its JSON patch (:mod:`webhook.core.patch`), base64-encoded JSON as
``admission.k8s.io/v1`` wants it.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Final

import orjson

from webhook.core.errors import MalformedReview

DEPTH_EXCEEDED: Final = "depth limit exceeded"
"""orjson's message for a document nested deeper than it parses (1024 levels)."""
API_VERSION: Final = "admission.k8s.io/v1"
KIND: Final = "AdmissionReview"
PATCH_TYPE: Final = "JSONPatch"


@dataclasses.dataclass(frozen=True, slots=True)
class Review:
    """The parts of a valid AdmissionReview the webhook uses; ``body`` is the whole review."""

    body: dict[str, Any]
    uid: str
    handled: bool
    """A pod CREATE (no subresource): the only request the webhook acts on."""
    what: str
    """``CREATE pods`` and the like, for the warning when not handled."""

    @property
    def pod(self) -> dict[str, Any]:
        """``request.object``: of a handled review, the pod being created (an object)."""
        pod: dict[str, Any] = self.body["request"]["object"]
        return pod


def parse(raw: bytes) -> Review:
    """Decode and check a request body; raise :class:`MalformedReview` naming the problem."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise _undecodable(raw, error) from None
    return check(body)


def _undecodable(raw: bytes, error: orjson.JSONDecodeError) -> MalformedReview:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as bad:
        return MalformedReview(f"the body is not UTF-8 text: {bad.reason} at byte {bad.start}")
    if error.msg == DEPTH_EXCEEDED:
        return MalformedReview("the body is JSON nested too deeply to be an AdmissionReview")
    return MalformedReview(f"the body is not JSON: {error.msg} at position {error.pos}")


def check(body: object) -> Review:
    """Check a decoded body; the returned review's ``body`` may be normalised (see below)."""
    if not isinstance(body, dict):
        raise MalformedReview(f"expected a JSON object (an AdmissionReview), got {_kind(body)}")
    if body.get("apiVersion") != API_VERSION or body.get("kind") != KIND:
        raise MalformedReview(
            f"expected apiVersion {API_VERSION!r} and kind {KIND!r}, got "
            f"{_short(body.get('apiVersion'))} and {_short(body.get('kind'))}; "
            "the webhook configuration must list admissionReviewVersions: [v1]"
        )
    request = _field(body, "request", dict, "request")
    uid = _field(request, "uid", str, "request.uid")
    if not uid:
        raise MalformedReview("request.uid is empty; the response must echo it")
    resource = _field(request, "resource", dict, "request.resource")
    group = _field(resource, "group", str, "request.resource.group")
    version = _field(resource, "version", str, "request.resource.version")
    plural = _field(resource, "resource", str, "request.resource.resource")
    operation = _field(request, "operation", str, "request.operation")
    _field(request, "userInfo", dict, "request.userInfo")
    namespace = _optional(request, "namespace", str, "request.namespace")
    subresource = _optional(request, "subResource", str, "request.subResource")
    _optional(request, "dryRun", bool, "request.dryRun")
    handled = (group, version, plural, operation, subresource or "") == (
        "",
        "v1",
        "pods",
        "CREATE",
        "",
    )
    if handled:
        pod = _field(request, "object", dict, "request.object")
        _normalise_namespace(pod, namespace)
    what = f"{operation} {plural}{'/' + subresource if subresource else ''}"
    return Review(body, uid, handled, what)


def allowed(
    review: Review | None,
    uid: str = "",
    warnings: Sequence[str] = (),
    patch: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """An "allowed" AdmissionReview response: unchanged, or changed by ``patch`` (JSON patch
    operations); ``uid`` is echoed when there is no valid review to take it from."""
    response: dict[str, Any] = {"uid": review.uid if review else uid, "allowed": True}
    if warnings:
        response["warnings"] = list(warnings)
    if patch:
        response["patch"] = base64.b64encode(orjson.dumps(patch)).decode("ascii")
        response["patchType"] = PATCH_TYPE
    return {"apiVersion": API_VERSION, "kind": KIND, "response": response}


def uid_of(body: object) -> str:
    """The request UID of a body that may not be a valid review, or ``""``."""
    if isinstance(body, Mapping):
        request = body.get("request")
        if isinstance(request, Mapping) and isinstance(request.get("uid"), str):
            return str(request["uid"])
    return ""


def _normalise_namespace(pod: dict[str, Any], namespace: str | None) -> None:
    """Pods being created carry their namespace in the request; make the object say it too.

    The API server already copies it into the object before admission; this covers clients
    that post reviews themselves. The patch is derived from this object, and no operation of it
    is about the namespace.
    """
    metadata = pod.get("metadata")
    if metadata is None:
        metadata = pod["metadata"] = {}
    if not isinstance(metadata, dict):
        raise MalformedReview(f"request.object.metadata: expected an object, got {_kind(metadata)}")
    if namespace and not metadata.get("namespace"):
        metadata["namespace"] = namespace


def _field(parent: Mapping[str, Any], key: str, kind: type, path: str) -> Any:
    if key not in parent:
        raise MalformedReview(f"{path} is missing")
    value = parent[key]
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise MalformedReview(f"{path}: expected {_name(kind)}, got {_kind(value)}")
    return value


def _optional(parent: Mapping[str, Any], key: str, kind: type, path: str) -> Any:
    if parent.get(key) is None:
        return None
    return _field(parent, key, kind, path)


_NAMES: Final = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}


def _name(kind: type) -> str:
    return _NAMES.get(kind, kind.__name__)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    for kind, name in _NAMES.items():
        if isinstance(value, kind):
            return name
    return "a number" if isinstance(value, int | float) else type(value).__name__


def _short(value: object) -> str:
    if not isinstance(value, str):
        return _kind(value)
    return repr(value) if len(value) <= 60 else repr(value[:60]) + "..."
