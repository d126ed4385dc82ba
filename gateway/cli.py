"""The `comet-gateway` command line."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="comet-gateway", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo-upstream", help="run the Comet-compatible demo REST server alone")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=5001)
    demo.add_argument("--scale", type=int, default=1,
                      help="multiply the experiments per project (100 gives 26,000+)")
    demo.add_argument("--latency-ms", type=float, default=0.0,
                      help="added latency per REST request")
    demo.add_argument("--print-keys", action="store_true",
                      help="print the demo's API keys as JSON and exit")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.command == "demo-upstream":
        from demo_upstream.app import main as demo_main  # only this command needs the demo

        demo_main(args.host, args.port, args.scale, args.latency_ms, args.print_keys)
