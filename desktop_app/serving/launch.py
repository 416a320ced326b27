"""Starting and stopping a server: Ray (a local instance, or an existing cluster with
``address``), Serve's HTTP proxy with its own TLS options, and the deployment.

Each replica asks Ray for one GPU, or for its share of the CPUs (a CPU replica runs that
many torch threads), so N replicas on N GPUs, or across the nodes of a cluster, each hold one
engine. Replicas that cannot be placed, or that fail to load their model, are reported in one
line instead of a wait without end.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from desktop_app.core.errors import InvalidRequestError, LiveCanvasError, ModelLoadError
from desktop_app.core.resources import is_frozen
from desktop_app.core.wire import DEFAULT_PORT
from desktop_app.core.wire_stream import HEARTBEAT_S
from desktop_app.models.presets import DEFAULT_PRESET

APP_NAME = "live-canvas"
KEEP_ALIVE_S = 60  # an artist pausing for a minute keeps the connection (and its TLS session)
LOAD_TIMEOUT_S = 1800.0  # a first SDXL load on a slow disk
_PLACEMENT_HINT_S = 30.0  # replicas not placed after this: say what they wait for

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ServeOptions:
    model: str = DEFAULT_PRESET
    device: str | None = None  # None: a GPU per replica if the cluster has GPUs, else CPUs
    dtype: str | None = None
    backend: str = "pytorch"
    precision: str | None = None  # with backend "openvino"
    replicas: int = 1
    autoscale: tuple[int, int] | None = None  # (min, max) replicas, instead of ``replicas``
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    token: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    compile_models: bool = False
    address: str | None = None  # an existing Ray cluster ("auto", "ray://head:10001", ...)
    cpus_per_replica: float | None = None
    loras: tuple[str, ...] = ()  # LoRA files offered to clients by name (``--lora``)
    heartbeat_s: float = HEARTBEAT_S  # a streamed reply's news while a frame renders
    max_batch: int | None = None  # frames in one forward (``--max-batch``; None: by device)
    batch_wait_ms: float = 0.0  # a batch's wait for more frames while others draw
    tokens_file: str | None = None  # per-artist tokens, read by each replica

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert else "http"

    @property
    def most_replicas(self) -> int:
        return self.autoscale[1] if self.autoscale else self.replicas


def require_ray() -> None:
    if is_frozen():
        # Ray starts its workers as `sys.executable worker.py`: a frozen executable is not an
        # interpreter, so the bundle leaves Ray out (packaging/live-canvas.spec).
        raise LiveCanvasError(
            "serve is not part of the desktop bundle: install live-canvas with pip on the "
            "server, pip install 'live-canvas[serve]'"
        )
    try:
        import ray  # noqa: F401
        from ray import serve  # noqa: F401
    except ImportError:
        raise LiveCanvasError(
            "serving needs Ray Serve, an optional part: pip install 'live-canvas[serve]' "
            "(in a checkout: pip install -e '.[serve]')"
        ) from None


def check_port_free(host: str, port: int) -> None:
    """Fail now, in one line, rather than inside Ray's proxy."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise InvalidRequestError(f"cannot listen on {host}: unknown host") from None
    family, kind, proto, _, sockaddr = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(sockaddr)
        except OSError as err:
            raise InvalidRequestError(
                f"cannot listen on {host}:{port}: {err.strerror or err}"
            ) from None


class Server:
    """One ``live-canvas serve``: ``start()``, then ``stop()`` (also after a failed start)."""

    def __init__(self, options: ServeOptions) -> None:
        self.options = options
        self._initialized_ray = False  # ray.init was ours: ray.shutdown is too

    def start(self, progress: Progress | None = None) -> str:
        """Deploy and wait until every replica has its model; the address clients use."""
        progress = progress or (lambda _message: None)
        require_ray()
        from ray import serve

        options = self.options
        self._start_or_join_ray(progress)
        device = options.device or ("cuda" if _cluster("GPU") > 0 else "cpu")
        actor_options, threads = self._resources(device)
        max_batch = options.max_batch or default_max_batch(device)
        serve.start(http_options=self._http_options(), logging_config={"log_level": "WARNING"})
        from desktop_app.serving.deployment import (
            MAX_ONGOING_REQUESTS,
            FrameServer,
            ReplicaConfig,
        )

        config = ReplicaConfig(
            model=options.model,
            device=device,
            dtype=options.dtype,
            backend=options.backend,
            precision=options.precision,
            compile_models=options.compile_models,
            token_sha256=_digest(options.token),
            cpu_threads=threads,
            loras=tuple(str(Path(p).resolve()) for p in options.loras),
            heartbeat_s=options.heartbeat_s,
            max_batch=max_batch,
            batch_wait_s=options.batch_wait_ms / 1000.0,
            tokens_file=str(Path(options.tokens_file).resolve()) if options.tokens_file else None,
        )
        deployment = FrameServer.options(
            ray_actor_options=actor_options,
            # A batch can only hold the frames the replica has taken in.
            max_ongoing_requests=max(MAX_ONGOING_REQUESTS, max_batch + 2),
            **self._scaling(),
        )
        batches = f", frames in batches of up to {max_batch}" if max_batch > 1 else ""
        progress(f"loading {options.model} in {self._replicas_text()} on {device}{batches}")
        serve.run_many(
            [serve.RunTarget(deployment.bind(config), name=APP_NAME, route_prefix="/")],
            wait_for_applications_running=False,
        )
        self._wait_until_running(progress)
        host = f"[{options.host}]" if ":" in options.host else options.host
        return f"{options.scheme}://{host}:{options.port}"

    def _start_or_join_ray(self, progress: Progress) -> None:
        import ray

        # Serve's INFO lines are for Ray's own users. Ray reports usage to its makers unless
        # told not to: a studio's server stays quiet unless RAY_USAGE_STATS_ENABLED=1.
        logging.getLogger("ray.serve").setLevel(logging.WARNING)
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        if ray.is_initialized():
            return
        address = self.options.address
        progress(f"joining the Ray cluster at {address}" if address else "starting Ray")
        try:
            ray.init(
                # "local": a new instance of our own, never a cluster `ray start` left behind
                # on this machine (ray.init's default would join that one).
                address=address or "local",
                include_dashboard=False,
                logging_level=logging.WARNING,
                log_to_driver=False,
            )
        except Exception as err:  # noqa: BLE001 - Ray's many kinds, one line for each
            raise ModelLoadError(_ray_failure(address, err)) from None
        self._initialized_ray = True

    def stop(self) -> None:
        import ray
        from ray import serve

        if ray.is_initialized():
            try:
                serve.shutdown()
            finally:
                if self._initialized_ray:
                    ray.shutdown()

    # --- the pieces ---------------------------------------------------------------------------
    def _http_options(self):
        from ray.serve.config import HTTPOptions

        options = self.options
        return HTTPOptions(
            host=options.host,
            port=options.port,
            ssl_certfile=options.tls_cert,
            ssl_keyfile=options.tls_key,
            keep_alive_timeout_s=KEEP_ALIVE_S,
        )

    def _resources(self, device: str) -> tuple[dict, int | None]:
        """Ray resources per replica, and a CPU replica's torch threads."""
        options, most = self.options, self.options.most_replicas
        if device.startswith("cuda"):
            gpus = _cluster("GPU")
            if not options.address and gpus < most:
                raise InvalidRequestError(
                    f"{_count(most, 'replica')} on {device} {'needs' if most == 1 else 'need'} "
                    f"{_count(most, 'GPU')}; "
                    f"this machine has {gpus:g}"
                )
            return {"num_gpus": 1}, None
        cores = _cluster("CPU")
        cpus = options.cpus_per_replica or (1.0 if options.address else cores / most)
        if not options.address and cpus * most > cores + 1e-9:
            raise InvalidRequestError(
                f"{_count(most, 'replica')} of {cpus:g} CPUs {'needs' if most == 1 else 'need'} "
                f"{cpus * most:g} CPUs; "
                f"this machine has {cores:g}"
            )
        return {"num_cpus": cpus}, max(1, int(cpus))

    def _scaling(self) -> dict:
        options = self.options
        if options.autoscale is None:
            return {"num_replicas": options.replicas}
        low, high = options.autoscale
        return {
            "autoscaling_config": {
                "min_replicas": low,
                "max_replicas": high,
                # Each window has at most one frame in flight: one replica per busy artist.
                "target_ongoing_requests": 1,
                "upscale_delay_s": 3,
                "downscale_delay_s": 120,
            }
        }

    def _replicas_text(self) -> str:
        options = self.options
        if options.autoscale:
            return f"{options.autoscale[0]} to {options.autoscale[1]} replicas (autoscaling)"
        return _count(options.replicas, "replica")

    def _wait_until_running(self, progress: Progress) -> None:
        from ray import serve

        start, hinted = time.monotonic(), False
        while True:
            app = serve.status().applications.get(APP_NAME)
            status = str(getattr(app, "status", "NOT_STARTED"))
            if status.endswith("RUNNING"):
                return
            if status.endswith("DEPLOY_FAILED") or status.endswith("UNHEALTHY"):
                raise ModelLoadError(replica_failure(app))
            waited = time.monotonic() - start
            if waited > _PLACEMENT_HINT_S and not hinted and app is not None:
                hinted = True
                detail = " ".join(d.message for d in app.deployments.values() if d.message)
                progress(f"still starting after {waited:.0f} s: {detail or 'loading the model'}")
            if waited > LOAD_TIMEOUT_S:
                raise ModelLoadError(f"the replicas did not start within {LOAD_TIMEOUT_S:.0f} s")
            time.sleep(0.25)


def default_max_batch(device: str) -> int:
    from desktop_app.serving.batching import DEFAULT_MAX_BATCH_CPU, DEFAULT_MAX_BATCH_GPU

    return DEFAULT_MAX_BATCH_GPU if device.startswith("cuda") else DEFAULT_MAX_BATCH_CPU


def replica_failure(app) -> str:
    """The one line that says why the replicas failed: our own error message when a replica
    raised one (its traceback is in Ray's message), else the end of Ray's message."""
    texts = [app.message] + [d.message for d in app.deployments.values()]
    text = "\n".join(t for t in texts if t)
    ours = re.findall(r"desktop_app\.core\.errors\.\w+: (.+)", text)
    if ours:
        return f"the model did not load in the server: {ours[-1].strip()}"
    errors = re.findall(r"^\s*(\w+(?:Error|Exception)): (.+)$", text, re.MULTILINE)
    if errors:
        name, message = errors[-1]
        return f"the server's replicas failed to start: {name}: {message.strip()}"
    last = [line.strip() for line in text.splitlines() if line.strip()]
    return f"the server's replicas failed to start: {last[-1] if last else 'no reason given'}"


def _ray_failure(address: str | None, err: Exception) -> str:
    reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if not address:
        return f"Ray did not start: {reason}"
    return (
        f"cannot join the Ray cluster at {address}: {reason} (a cluster started with "
        "`ray start` may check a token: run with RAY_AUTH_MODE=token and the cluster's token "
        "in ~/.ray/auth_token; see docs/SERVING.md)"
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _cluster(resource: str) -> float:
    import ray

    return float(ray.cluster_resources().get(resource, 0.0))


def _digest(token: str | None) -> str | None:
    from desktop_app.serving.service import token_digest

    return token_digest(token) if token else None
