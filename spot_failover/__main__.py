"""``python -m spot_failover`` and the ``spot-failover`` console script."""

from __future__ import annotations

import os
import sys


def main() -> int:
    """Run the command with the process's arguments; returns the exit code."""
    try:
        from spot_failover import cli  # noqa: PLC0415 - a missing extra gets a clear message
    except ModuleNotFoundError as missing:
        print(
            f"spot-failover: {missing.name} is not installed; "
            "install the command with: pip install 'spot-failover[cli]'",
            file=sys.stderr,
        )
        return 2
    try:
        code = cli.main(sys.argv[1:])
        sys.stdout.flush()
    except BrokenPipeError:
        # ``spot-failover status | head``: the reader left. Say nothing more, as kubectl does.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
