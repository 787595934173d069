"""The webhook's I/O: the Kubernetes API client and the mapping of its failures.

* :mod:`.kube` — every API call the webhook makes besides kopf's watches, typed and bounded.
* :mod:`.certificate_store` — the certificates' Secrets and the webhook configuration's
  ``caBundle``, for the one-shot job.
* :mod:`.errors` — the client's failures mapped onto :mod:`spot_common.api_errors`.
"""
