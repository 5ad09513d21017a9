"""``python -m gateway serve|check-config``.

``serve`` validates the config before any worker starts (a broken file stops here with
the file, key path and reason), prepares the shared Prometheus multiprocess directory
(wiped, so counters restart from zero with the process group), then runs the ASGI
server. uvicorn (httptools + uvloop) is the default: its llhttp parser refuses every
request-smuggling shape we test (tests/security/test_framing.py) and it measured
faster than granian with the gateway's handler; ``--server granian`` remains. With
several uvicorn workers each listens on its own socket (``gateway.listen_socket``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

from gateway import listen_socket, switches
from gateway.config import ConfigError, load_config
from gateway.runtime import DEFAULT_CONFIG


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return args.func(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gateway")
    sub = parser.add_subparsers(required=True, metavar="command")
    serve = sub.add_parser("serve", help="run the gateway")
    serve.add_argument("--config", default=os.environ.get("GATEWAY_CONFIG", DEFAULT_CONFIG))
    serve.add_argument("--host", default=os.environ.get("GATEWAY_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("GATEWAY_PORT", "8000")))
    serve.add_argument("--workers", type=int, default=int(os.environ.get("GATEWAY_WORKERS", "1")))
    serve.add_argument("--server", choices=("granian", "uvicorn"), default=os.environ.get("GATEWAY_SERVER", "uvicorn"))
    serve.set_defaults(func=serve_command)
    check = sub.add_parser("check-config", help="validate a config file and exit")
    check.add_argument("file")
    check.set_defaults(func=check_command)
    return parser


def check_command(args: argparse.Namespace) -> int:
    try:
        config, _ = load_config(args.file)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        print(f"{args.file}: {len(exc.problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"{args.file}: OK ({len(config.routes)} routes, {len(config.upstreams)} upstreams)")
    return 0


def serve_command(args: argparse.Namespace) -> int:
    if check_command(argparse.Namespace(file=args.config)) != 0:
        return 2
    try:  # each worker reads it again; a bad value stops the start here, without a traceback
        switches.record_interval()
    except ValueError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
    os.environ["GATEWAY_CONFIG"] = os.path.abspath(args.config)
    os.environ["GATEWAY_WORKERS"] = str(args.workers)
    _fresh_multiprocess_dir()
    if args.server == "uvicorn":
        return _uvicorn(args)
    return _granian(args)


def _fresh_multiprocess_dir() -> None:
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not path:
        path = tempfile.mkdtemp(prefix="gateway-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path, exist_ok=True)


def _granian(args: argparse.Namespace) -> int:
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces, Loops

    Granian(
        "gateway.asgi:application",
        address=args.host,
        port=args.port,
        interface=Interfaces.ASGI,
        workers=args.workers,
        loop=Loops.uvloop,
        http=HTTPModes.http1,
        websockets=False,
        log_access=False,
        respawn_failed_workers=True,
        backlog=2048,
    ).serve()
    return 0


def _uvicorn(args: argparse.Namespace) -> int:
    import signal

    import uvicorn

    from gateway.http_protocol import GatewayHttpToolsProtocol

    # uvicorn re-raises the SIGTERM it handled once it has drained; a no-op handler
    # here turns that into a clean exit 0 instead of death by signal.
    signal.signal(signal.SIGTERM, lambda *_: None)
    options = dict(
        host=args.host,
        port=args.port,
        workers=args.workers,
        loop="uvloop",
        http=GatewayHttpToolsProtocol,  # httptools, one send() per response (gateway.http_protocol)
        lifespan="on",
        access_log=False,
        server_header=False,
        date_header=False,  # proxied responses carry the upstream's Date; ours add one
        proxy_headers=False,  # the gateway resolves X-Forwarded-For itself (trusted proxies)
        timeout_graceful_shutdown=int(os.environ.get("GATEWAY_DRAIN_SECONDS", "20")),
        log_level="warning",
    )
    if args.workers == 1 or not listen_socket.enabled():
        uvicorn.run("gateway.asgi:application", **options)
        return 0
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config("gateway.asgi:application", **options)
    try:
        sock = listen_socket.reserve(args.host, args.port)
    except OSError as exc:
        reason = exc.strerror or exc
        print(f"gateway: cannot listen on {args.host}:{args.port}: {reason}", file=sys.stderr)
        return 1
    Multiprocess(config, sockets=[sock]).run()  # each worker binds its own (gateway.listen_socket)
    return 0
