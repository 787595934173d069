"""Tests of the webhook shell: admission over HTTPS, fail-open, TLS reload, RBAC, deploy/."""
