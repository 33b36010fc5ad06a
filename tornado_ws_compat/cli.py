"""The command line: ``python -m tornado_ws_compat run|serve|check ...``.

``run SCRIPT [ARGS...]`` / ``run -m MODULE [ARGS...]``
    Runs an unmodified Tornado program, every ``tornado`` import served by this package (see
    :mod:`tornado_ws_compat.launch`). Arguments after SCRIPT or MODULE are the program's.

``serve CONFIG [--port N] [--address A] [--workers N]``
    Loads and checks the whole configuration, then listens. When ready it prints
    ``... listening on http://ADDR:PORT/`` to stdout. stdout is line-buffered, so ``print()``
    in hooks shows at once. SIGTERM or SIGINT shut the server down gracefully (every
    WebSocket closed with 1001, ``on_close`` run, sessions saved) and it exits 0.
``check CONFIG``
    Validates the configuration (and imports its hooks) without serving.

Exit status: 0 on success; 2 for an invalid configuration (or invalid arguments), with a
message naming the route and the key, and nothing started; 1 when the server cannot start
(the port is taken, for example).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import logging
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from tornado_ws_compat import __version__

if TYPE_CHECKING:
    from tornado_ws_compat import server
    from tornado_ws_compat.config.loader import Config

__all__ = ["EXIT_CONFIG", "EXIT_ERROR", "EXIT_OK", "main"]

EXIT_OK = 0
#: Failure to start (for example the port is in use).
EXIT_ERROR = 1
#: Invalid configuration or arguments (argparse uses 2 as well).
EXIT_CONFIG = 2

_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tornado_ws_compat",
        description="Run a Tornado program unchanged, or serve Tornado-style WebSocket "
        "routes from a YAML configuration.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # Listed for --help only: main() hands "run" to the launcher before argparse sees it, so
    # that the program's own flags reach the program.
    commands.add_parser(
        "run",
        help="run a Tornado program unchanged: run SCRIPT [ARGS...] or run -m MODULE [ARGS...]",
        add_help=False,
    )
    serve = commands.add_parser("serve", help="serve the routes of CONFIG")
    serve.add_argument("config", metavar="CONFIG", help="YAML configuration file")
    serve.add_argument(
        "--port", type=int, default=None, help="port (default: app.listen.port; 0: any free one)"
    )
    serve.add_argument(
        "--address", default=None, help="address to bind (default: app.listen.address)"
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes sharing the port (default: app.listen.workers, 1; 0: one per "
        "core); broadcast across them with app.pubsub: redis://...",
    )
    serve.add_argument(
        "--log-level",
        default="INFO",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="logging level on stderr (default: INFO)",
    )
    check = commands.add_parser("check", help="validate CONFIG and exit")
    check.add_argument("config", metavar="CONFIG", help="YAML configuration file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    if arguments[:1] == ["run"]:
        from tornado_ws_compat import launch

        return launch.main(arguments[1:])
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    args = _parser().parse_args(arguments)
    # Handler modules the configuration names may be written against Tornado's names: serve
    # them from this package for the whole process (called in a process that has imported
    # real Tornado already, the loader's scoped alias still covers the configuration's imports).
    from tornado_ws_compat.alias import install_tornado_alias

    with contextlib.suppress(RuntimeError):
        install_tornado_alias()
    try:
        if args.command == "check":
            return _check(args.config)
        return _serve(args.config, args.port, args.address, args.log_level, args.workers)
    except KeyboardInterrupt:  # Ctrl-C while loading, before serve() handles SIGINT
        return 130


def _load(path: str) -> Config | None:
    from tornado_ws_compat.config.loader import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return None


def _check(path: str) -> int:
    config = _load(path)
    if config is None:
        return EXIT_CONFIG
    routes = ", ".join(f"{r.name} ({r.pattern})" for r in config.routes)
    print(f"{config.source}: OK: {routes}")
    return EXIT_OK


def _serve(
    path: str, port: int | None, address: str | None, log_level: str, workers: int | None = None
) -> int:
    from tornado_ws_compat import netutil, process, server
    from tornado_ws_compat.config.loader import published_secret_error, shared_store_error

    logging.basicConfig(level=log_level, format=_LOG_FORMAT, stream=sys.stderr)
    if port is not None and not 0 <= port <= 65535:
        print(f"error: --port must be between 0 and 65535, got {port}", file=sys.stderr)
        return EXIT_CONFIG
    config = _load(path)  # everything is checked before a socket is bound
    if config is None:
        return EXIT_CONFIG
    listen = config.listen
    port = listen.port if port is None else port
    address = listen.address if address is None else address
    published = published_secret_error(config.settings.get("cookie_secret"), address)
    if published is not None:  # --address moved a loopback example onto the network
        print(
            f"error: {config.source}: key 'app.settings.cookie_secret': {published}",
            file=sys.stderr,
        )
        config.close()
        return EXIT_CONFIG
    workers = listen.workers if workers is None else workers
    if workers < 0:
        print(f"error: --workers must be 0 (one per core) or more, got {workers}", file=sys.stderr)
        return EXIT_CONFIG
    shared = shared_store_error(config.session.store, workers)
    if shared is not None:
        print(f"error: {config.source}: key 'app.session.store': {shared}", file=sys.stderr)
        config.close()
        return EXIT_CONFIG
    sockets = None
    if workers != 1:
        # Bound once before the fork: every worker accepts on the same sockets.
        try:
            sockets = netutil.bind_sockets(
                port, address or None, reuse_port=bool(listen.options.get("reuse_port"))
            )
        except OSError as exc:
            print(f"error: cannot listen on {address or '*'}:{port}: {exc}", file=sys.stderr)
            return EXIT_ERROR
        process.fork_processes(workers)  # the parent stays there, watching the workers

    def ready(http_server: server.HTTPServer) -> None:
        worker = process.task_id()
        suffix = "" if worker is None else f" (worker {worker})"
        # One write for the whole line: workers share stdout, and their lines must not mix.
        sys.stdout.write(f"{config.source}: listening on {http_server.url()}{suffix}\n")
        sys.stdout.flush()

    try:
        _run(
            server.serve(
                config.application,
                port,
                address,
                shutdown_timeout=listen.shutdown_timeout,
                ready=ready,
                sockets=sockets,
                **listen.server_kwargs(),
            )
        )
    except OSError as exc:
        print(f"error: cannot listen on {address or '*'}:{port}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        config.close()
    return EXIT_OK


def _run(coroutine: Any) -> None:
    """Run on uvloop when it is installed (the project's default loop), else asyncio's."""
    factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    try:
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        pass
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(coroutine)
