"""The `comet-gateway` command line: serve, demo, schema, demo-upstream."""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
from collections.abc import Sequence

DEMO_USER = "alice"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="comet-gateway", description="A GraphQL gateway over the Comet REST API.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the gateway (settings from COMET_GATEWAY_*)")
    serve.add_argument("--upstream", help="Comet's root URL (COMET_GATEWAY_UPSTREAM_URL; "
                                          "default https://www.comet.com)")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8000)")
    serve.add_argument("--workers", type=int, help="uvicorn worker processes (default 1)")

    demo = commands.add_parser("demo", help="the demo upstream and the gateway on it, together")
    demo.add_argument("--host", default="127.0.0.1",
                      help="address the gateway listens on (default 127.0.0.1; the demo "
                           "upstream always listens on 127.0.0.1)")
    demo.add_argument("--port", type=int, default=8000,
                      help="the gateway's port (default 8000; 0 takes any free one)")
    demo.add_argument("--upstream-port", type=int, default=0,
                      help="the demo upstream's port (default: any free one)")
    demo.add_argument("--scale", type=int, default=1,
                      help="multiply the experiments per project (default 1; 100 gives "
                           "26,000+)")

    commands.add_parser("schema", help="print the GraphQL schema (SDL)")
    commands.add_parser("settings", help="print the configuration reference (Markdown)")

    upstream = commands.add_parser(
        "demo-upstream", help="run the Comet-compatible demo REST server alone")
    upstream.add_argument("--host", default="127.0.0.1",
                          help="address to listen on (default 127.0.0.1)")
    upstream.add_argument("--port", type=int, default=5001,
                          help="port to listen on (default 5001)")
    upstream.add_argument("--scale", type=int, default=1,
                          help="multiply the experiments per project (default 1; 100 gives "
                               "26,000+)")
    upstream.add_argument("--latency-ms", type=float, default=0.0,
                          help="added latency per REST request")
    upstream.add_argument("--fault", action="append", default=[], metavar="JSON",
                          help='a fault to inject from the start, e.g. '
                               '\'{"path": "experiment/tags", "kind": "status", "status": 503}\' '
                               "(repeatable; see demo_upstream/knobs.py)")
    upstream.add_argument("--print-keys", action="store_true",
                          help="print the demo's API keys as JSON and exit")
    return parser


def _serve(args: argparse.Namespace) -> None:
    from .server import serve
    from .settings import Settings

    # Flags become the environment, so that every uvicorn worker reads the same settings.
    for flag, env in (("upstream", "COMET_GATEWAY_UPSTREAM_URL"), ("host", "COMET_GATEWAY_HOST"),
                      ("port", "COMET_GATEWAY_PORT"), ("workers", "COMET_GATEWAY_WORKERS")):
        if getattr(args, flag) is not None:
            os.environ[env] = str(getattr(args, flag))
    serve(Settings.from_env())


def _listen(host: str, port: int) -> socket.socket:
    """The gateway's listening socket, bound before anything is printed: a busy port is said
    plainly (with the way out), not after a URL that does not answer."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        sys.exit(f"comet-gateway demo: cannot listen on {host}:{port} ({exc.strerror}). "
                 f"Pick another port: `comet-gateway demo --port 8010` "
                 f"(or `make demo PORT=8010`).")
    sock.listen(2048)  # connections made once the URL is printed wait for the server
    return sock


async def _demo(sock: socket.socket, upstream_port: int, scale: int) -> None:
    import uvicorn

    import demo_upstream

    from .app import create_app
    from .server import server_config
    from .settings import Settings

    demo_app = demo_upstream.make_app(scale=scale, live_every=2.0)
    keys = demo_upstream.keys(demo_app)
    runner = await demo_upstream.serve(demo_app, "127.0.0.1", upstream_port)
    upstream_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    host, port = sock.getsockname()[:2]
    settings = Settings.from_env(upstream_url=upstream_url, host=host, port=port,
                                 graphiql_api_key=keys[DEMO_USER], log_format="text",
                                 log_level="warning", workers=1)
    server = uvicorn.Server(server_config(create_app(settings), settings))
    print(f"Demo upstream (Comet-compatible REST): {upstream_url}", flush=True)
    shown = f"[{host}]" if ":" in host else host
    print(f"GraphiQL: http://{shown}:{port}/graphql", flush=True)
    print(f"Dashboard: http://{shown}:{port}/dashboard", flush=True)
    print(f"Demo API key ({DEMO_USER}): {keys[DEMO_USER]}  (already in GraphiQL's headers and "
          f"the dashboard)", flush=True)
    for name, key in keys.items():
        if name != DEMO_USER:
            print(f"  other demo keys: {name}: {key}", flush=True)
    try:
        await server.serve(sockets=[sock])
    finally:
        await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        _serve(args)
    elif args.command == "demo":
        sock = _listen(args.host, args.port)
        try:
            asyncio.run(_demo(sock, args.upstream_port, args.scale))
        except KeyboardInterrupt:
            pass
    elif args.command == "schema":
        from .schema import sdl

        sys.stdout.write(sdl())
    elif args.command == "settings":
        from .settings import Settings

        sys.stdout.write(Settings.markdown_table())
    elif args.command == "demo-upstream":
        from demo_upstream.app import main as demo_main  # only these commands need the demo

        demo_main(args.host, args.port, args.scale, args.latency_ms, args.print_keys, args.fault)
