"""``python -m spot_failover``, the ``spot-failover`` console script, and the kubectl plugin.

kubectl runs ``kubectl-spot_failover`` from PATH for ``kubectl spot-failover ...`` (a dash in
the command is an underscore in the file name) with the arguments after the plugin's name.
"""

from __future__ import annotations

import os
import sys


def main(program: str = "spot-failover") -> int:
    """Run the command with the process's arguments; returns the exit code."""
    try:
        from spot_failover import cli  # noqa: PLC0415 - a missing extra gets a clear message
    except ModuleNotFoundError as missing:
        print(
            f"{program}: {missing.name} is not installed; "
            "install the command with: pip install 'spot-failover[cli]'",
            file=sys.stderr,
        )
        return 2
    try:
        code = cli.main(sys.argv[1:], program=program)
        sys.stdout.flush()
    except BrokenPipeError:
        # ``spot-failover status | head``: the reader left. Say nothing more, as kubectl does.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return code


def kubectl_plugin() -> int:
    """``kubectl spot-failover``: the same command, named as kubectl users call it."""
    return main("kubectl spot-failover")


if __name__ == "__main__":
    sys.exit(main())
