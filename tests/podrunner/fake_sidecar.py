"""A stand-in for the sidecar in pod runner tests: reports what it was given, then waits.

Prints one JSON line: its arguments, its environment, and who the API server says it is (a
SelfSubjectReview made with ``$KUBECONFIG``). Answers HTTP on its metrics port, if it has one,
with its pod name. On SIGTERM it prints ``terminated`` and exits 0.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from kubernetes import client, config

POD_NAME = "SPOT_FAILOVER_POD_NAME"
METRICS_PORT = "SPOT_FAILOVER_METRICS_PORT"


def whoami() -> dict[str, Any]:
    """The identity of this process's credentials, as the API server sees them."""
    try:
        with config.new_client_from_config(config_file=os.environ["KUBECONFIG"]) as api:
            review = client.AuthenticationV1Api(api).create_self_subject_review(
                {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
            )
    except Exception as error:  # reported for the test to show
        return {"error": repr(error)}
    info = review.status.user_info
    return {"username": info.username, "extra": info.extra or {}}


class PodNameHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = os.environ[POD_NAME].encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the log holds only the report."""


def serve_metrics() -> None:
    port = int(os.environ.get(METRICS_PORT, "0"))
    if port:
        server = ThreadingHTTPServer(("127.0.0.1", port), PodNameHandler)
        threading.Thread(target=server.serve_forever, daemon=True).start()


def main() -> None:
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    serve_metrics()
    report = {"argv": sys.argv[1:], "env": dict(os.environ), "whoami": whoami()}
    print(json.dumps(report), flush=True)
    stopping.wait()
    print("terminated", flush=True)


if __name__ == "__main__":
    main()
