"""Run the IMDS simulator standalone, for a demo or a benchmark in another process.

Prints one JSON line with the root URL and each node's base URL once it listens, then serves
until SIGINT or SIGTERM. Everything else is driven through the control API
(:mod:`devtools.imds.control`).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from types import FrameType

from devtools.imds.simulator import ImdsSimulator


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.imds", description="Simulated EC2 IMDS for several nodes."
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument(
        "--node", action="append", default=[], metavar="NAME", help="a node to simulate (repeat)"
    )
    parser.add_argument(
        "--allow-v1", action="store_true", help="answer GETs without a token (v2-only is default)"
    )
    parser.add_argument(
        "--on-demand", action="store_true", help="nodes report instance-life-cycle on-demand"
    )
    parser.add_argument(
        "--notice-ip-limit",
        type=int,
        default=None,
        metavar="K",
        help="serve notices to the first K client IPs only (the AWS mock uses 2)",
    )
    parser.add_argument(
        "--notice", action="append", default=[], metavar="NAME", help="node with a notice"
    )
    parser.add_argument(
        "--notice-action", default="terminate", choices=["terminate", "stop", "hibernate"]
    )
    parser.add_argument(
        "--notice-delay", type=float, default=0.0, metavar="S", help="seconds until it appears"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    simulator = ImdsSimulator(port=args.port)
    try:
        for name in dict.fromkeys(args.node + args.notice):
            simulator.add_node(
                name,
                life_cycle="on-demand" if args.on_demand else "spot",
                v2_only=not args.allow_v1,
                notice_ip_limit=args.notice_ip_limit,
            )
        for name in args.notice:
            simulator.set_notice(name, args.notice_action, args.notice_delay)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with simulator:
        nodes = {name: simulator.base_url(name) for name in simulator.nodes()}
        print(json.dumps({"url": simulator.url, "nodes": nodes}), flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
