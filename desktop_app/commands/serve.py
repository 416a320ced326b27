"""``live-canvas serve``: the engine behind HTTP on Ray Serve, for windows on other machines.

Listening beyond this machine needs a token: one is made on the first start (printed once,
kept with 0600 permissions) unless ``--token-file`` names one. Ctrl+C (or SIGTERM) stops the
replicas and Ray.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from desktop_app.commands.arguments import (
    add_backend_arguments,
    add_device_arguments,
    add_lora_arguments,
    ranged,
)
from desktop_app.core.errors import InvalidRequestError
from desktop_app.core.wire import DEFAULT_PORT
from desktop_app.models.presets import DEFAULT_PRESET

MAX_REPLICAS = 256


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "serve",
        help="serve frames to windows on other machines (Ray Serve)",
        description="Serve the engine over HTTP on Ray Serve: one engine per replica (a GPU "
        "each, or a share of the CPUs). Needs the serve extra: pip install 'live-canvas[serve]'.",
    )
    p.add_argument(
        "--model", default=DEFAULT_PRESET, help=f"as for render (default {DEFAULT_PRESET})"
    )
    add_device_arguments(p, "default: float16 on GPUs, bfloat16 on CPUs with native support")
    add_backend_arguments(p)
    scale = p.add_mutually_exclusive_group()
    scale.add_argument(
        "--replicas",
        type=ranged(int, 1, MAX_REPLICAS, "replicas"),
        default=1,
        help="engines serving at once (default 1)",
    )
    scale.add_argument(
        "--autoscale",
        metavar="MIN:MAX",
        type=autoscale_range,
        default=None,
        help="let Ray Serve keep between MIN and MAX replicas, one per busy client",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument(
        "--port",
        type=ranged(int, 1, 65535, "port"),
        default=DEFAULT_PORT,
        help=f"port (default {DEFAULT_PORT})",
    )
    keys = p.add_mutually_exclusive_group()
    keys.add_argument(
        "--token-file",
        default=None,
        help="the clients' shared secret (made if missing); required beyond loopback, "
        "default ~/.config/live-canvas/serve-token there",
    )
    keys.add_argument(
        "--tokens-file",
        default=None,
        help="a token per artist instead: lines 'NAME TOKEN' (0600), re-read when it changes",
    )
    add_batch_arguments(p)
    p.add_argument("--tls-cert", default=None, help="PEM certificate: serve HTTPS")
    p.add_argument("--tls-key", default=None, help="PEM private key of --tls-cert")
    p.add_argument("--compile", action="store_true", help="torch.compile each replica's model")
    p.add_argument(
        "--address",
        default=None,
        help="join an existing Ray cluster (auto, or ray://head:10001) instead of starting one",
    )
    p.add_argument(
        "--cpus-per-replica",
        type=ranged(float, 0.1, 1024.0, "CPUs per replica"),
        default=None,
        help="CPU replicas: cores each (default: this machine's cores shared out)",
    )
    add_lora_arguments(
        p,
        help="a LoRA style file offered to clients by its name, beside the styles folder's "
        "(each client chooses its weight); repeat for more",
    )
    p.set_defaults(handler=run)


def add_batch_arguments(p: argparse.ArgumentParser) -> None:
    from desktop_app.serving.batching import (
        DEFAULT_BATCH_WAIT_MS,
        DEFAULT_MAX_BATCH_CPU,
        DEFAULT_MAX_BATCH_GPU,
        MAX_BATCH,
    )

    p.add_argument(
        "--max-batch",
        type=ranged(int, 1, MAX_BATCH, "max batch"),
        default=None,
        help="frames of several windows (same size, steps, styles) rendered in one forward "
        f"(default {DEFAULT_MAX_BATCH_GPU} on GPUs, {DEFAULT_MAX_BATCH_CPU} on CPUs; 1 turns "
        "batching off)",
    )
    p.add_argument(
        "--batch-wait-ms",
        type=ranged(float, 0.0, 1000.0, "batch wait (ms)"),
        default=DEFAULT_BATCH_WAIT_MS,
        help="how long a frame waits for others to share its forward, only while several "
        f"windows draw (default {DEFAULT_BATCH_WAIT_MS:g})",
    )


def autoscale_range(text: str) -> tuple[int, int]:
    low, sep, high = text.partition(":")
    if not sep or not low.strip().isdigit() or not high.strip().isdigit():
        raise argparse.ArgumentTypeError(f"autoscale must be MIN:MAX, like 1:4, got {text!r}")
    low_n, high_n = int(low), int(high)
    if not 1 <= low_n <= high_n <= MAX_REPLICAS:
        raise argparse.ArgumentTypeError(
            f"autoscale needs 1 <= MIN <= MAX <= {MAX_REPLICAS}, got {text!r}"
        )
    return low_n, high_n


def run(args: argparse.Namespace) -> int:
    from desktop_app.models.styles import resolve_style
    from desktop_app.serving.launch import ServeOptions, Server, check_port_free, require_ray

    # What can be wrong with the command line is said before Ray starts (or is found missing).
    tls_cert, tls_key = _tls_files(args)
    check_port_free(args.host, args.port)
    tokens_note = _tokens(args) if args.tokens_file else None
    require_ray()
    token, token_note = (None, tokens_note) if tokens_note else _token(args)
    options = ServeOptions(
        model=args.model,
        device=args.device,
        dtype=args.dtype,
        backend=args.backend,
        precision=args.precision,
        replicas=args.replicas,
        autoscale=args.autoscale,
        host=args.host,
        port=args.port,
        token=token,
        tls_cert=tls_cert,
        tls_key=tls_key,
        compile_models=args.compile,
        address=args.address,
        cpus_per_replica=args.cpus_per_replica,
        loras=tuple(str(resolve_style(source)) for source, _weight in args.lora),
        max_batch=args.max_batch,
        batch_wait_ms=args.batch_wait_ms,
        tokens_file=args.tokens_file,
    )
    server = Server(options)
    try:
        url = server.start(progress=lambda message: _say(message))
    except BaseException:
        server.stop()
        raise
    stop = threading.Event()
    # From here Ctrl+C and SIGTERM end the wait below; stopping runs once, undisturbed.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        print(f"serving {options.model} at {url} ({token_note})", flush=True)
        keyed = token or args.tokens_file
        client = f"live-canvas --server {url}" + (" --token-file FILE" if keyed else "")
        _say(f"draw against it with: {client}; Ctrl+C stops it")
        while not stop.wait(0.5):
            pass
    finally:
        _say("stopping")
        server.stop()
    return 0


def _say(message: str) -> None:
    print(f"live-canvas serve: {message}", file=sys.stderr, flush=True)


def _tls_files(args: argparse.Namespace) -> tuple[str | None, str | None]:
    if bool(args.tls_cert) != bool(args.tls_key):
        raise InvalidRequestError("HTTPS needs both --tls-cert and --tls-key")
    for flag, path in (("--tls-cert", args.tls_cert), ("--tls-key", args.tls_key)):
        if path:
            try:
                with open(path, "rb") as f:
                    head = f.read(4096)
            except OSError as err:
                raise InvalidRequestError(f"{flag} {path}: {err.strerror or err}") from None
            if b"-----BEGIN" not in head:
                raise InvalidRequestError(f"{flag} {path} is not a PEM file")
    return args.tls_cert, args.tls_key


def _tokens(args: argparse.Namespace) -> str:
    """Check the per-artist tokens file now (one line and a non-zero exit if it cannot be
    used); say each line skipped. The replicas read it themselves."""
    from desktop_app.core.tokens import others_can_read
    from desktop_app.serving.tokens import read_tokens_file

    tokens = read_tokens_file(args.tokens_file)
    for warning in tokens.warnings:
        _say(f"warning: {warning}")
    if others_can_read(args.tokens_file):
        _say(f"warning: other users can read {args.tokens_file}; run: chmod 600 {args.tokens_file}")
    count = len(tokens.names)
    return f"{count} artist{'s' * (count != 1)}' tokens in {args.tokens_file}, re-read on change"


def _token(args: argparse.Namespace) -> tuple[str | None, str]:
    """The token clients must send (None: none needed), and a note on where it is."""
    from desktop_app.core.tokens import default_token_path, ensure_token, others_can_read
    from desktop_app.remote.address import is_loopback

    path = args.token_file
    if path is None and is_loopback(args.host):
        return None, "no token: only this machine can connect"
    path = path or str(default_token_path())
    token, made = ensure_token(path)
    if made:
        _say(f"made a new token, kept in {path} (copy that file to each client):")
        print(token, file=sys.stderr, flush=True)
    elif others_can_read(path):
        _say(f"warning: other users can read {path}; run: chmod 600 {path}")
    return token, f"token in {path}"
