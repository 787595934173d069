"""Where the control-plane binaries are: built from Go modules once, cached by version."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

_BUILD_SCRIPT = Path(__file__).with_name("build.sh")


@dataclasses.dataclass(frozen=True)
class Binaries:
    directory: Path

    @property
    def etcd(self) -> Path:
        return self.directory / "etcd"

    @property
    def kube_apiserver(self) -> Path:
        return self.directory / "kube-apiserver"

    @property
    def kube_controller_manager(self) -> Path:
        return self.directory / "kube-controller-manager"

    @property
    def kube_scheduler(self) -> Path:
        return self.directory / "kube-scheduler"

    @property
    def kubectl(self) -> Path:
        return self.directory / "kubectl"

    @property
    def kwok(self) -> Path:
        return self.directory / "kwok"

    @property
    def kwok_stages(self) -> Path:
        """kwok's standard "fast" stages: nodes Ready with leases, pods Ready at once."""
        return self.directory / "kwok-stages.yaml"


def locate() -> Binaries:
    """Run the build script (a no-op when cached) and return the directory it prints."""
    result = subprocess.run(
        ["bash", str(_BUILD_SCRIPT)], check=True, capture_output=True, text=True
    )
    return Binaries(Path(result.stdout.strip().splitlines()[-1]))
