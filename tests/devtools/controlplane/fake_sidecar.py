"""A stand-in for the sidecar in pod runner tests: reports what it was given, then waits.

Prints one JSON line: its arguments, its environment, and who the API server says it is (a
SelfSubjectReview made with the ServiceAccount volume and service address it was given, as the
real sidecar authenticates). Answers HTTP on its metrics port, if it has one,
with its pod name. On SIGTERM it prints ``terminated`` and exits 0.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

POD_NAME = "SPOT_FAILOVER_POD_NAME"
METRICS_PORT = "SPOT_FAILOVER_METRICS_PORT"
CREDENTIALS_DIR = "SPOT_FAILOVER_API_CREDENTIALS_DIR"


def whoami(credentials: Path) -> dict[str, Any]:
    """The identity of the pod's ServiceAccount volume, as the API server sees it."""
    server = (
        f"https://{os.environ['KUBERNETES_SERVICE_HOST']}:{os.environ['KUBERNETES_SERVICE_PORT']}"
    )
    try:
        response = requests.post(
            f"{server}/apis/authentication.k8s.io/v1/selfsubjectreviews",
            json={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
            headers={"Authorization": f"Bearer {(credentials / 'token').read_text()}"},
            verify=str(credentials / "ca.crt"),
            timeout=10,
        )
        response.raise_for_status()
    except Exception as error:  # reported for the test to show
        return {"error": repr(error)}
    info = response.json()["status"]["userInfo"]
    return {"username": info["username"], "extra": info.get("extra") or {}}


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
    report = {
        "argv": sys.argv[1:],
        "env": dict(os.environ),
        "whoami": whoami(Path(os.environ[CREDENTIALS_DIR])),
    }
    print(json.dumps(report), flush=True)
    stopping.wait()
    print("terminated", flush=True)


if __name__ == "__main__":
    main()
