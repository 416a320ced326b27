"""Helpers of the serve tests: a server on 127.0.0.1 with the tiny model on CPU replicas, and
drawings that differ for every seed."""

from __future__ import annotations

import socket
from dataclasses import replace

import numpy as np
import psutil

TOKEN = "the-serve-tests-token-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(
    replicas: int = 2,
    port: int | None = None,
    token: str | None = TOKEN,
    autoscale: tuple[int, int] | None = None,
    loras: tuple[str, ...] = (),
    heartbeat_s: float | None = None,
    **more,
):
    from desktop_app.serving.launch import ServeOptions, Server

    options = ServeOptions(
        model="tiny",
        device="cpu",
        replicas=replicas,
        autoscale=autoscale,
        port=port or free_port(),
        token=token,
        cpus_per_replica=1,
        loras=loras,
        **more,
    )
    if heartbeat_s is not None:
        options = replace(options, heartbeat_s=heartbeat_s)
    server = Server(options)
    try:
        url = server.start()
    except BaseException:
        server.stop()
        raise
    return server, url


def sketch_for(seed: int, size: int = 256) -> np.ndarray:
    """A different drawing for every seed: a box and a diagonal of their own."""
    rng = np.random.default_rng(seed)
    img = np.full((size, size, 3), 255, np.uint8)
    x0, y0 = rng.integers(10, size // 2, 2)
    img[y0 : y0 + 4, x0 : x0 + size // 3] = 0
    img[y0 : y0 + size // 3, x0 : x0 + 4] = 0
    for i in range(size):
        img[i, (i * (seed % 5 + 1)) % size] = 0
    return img


def replica_pids() -> list[int]:
    """The replicas' processes of the Ray instance this process started (Ray titles its actor
    processes ``ray::ServeReplica:APP:DEPLOYMENT``; its workers descend from this process)."""
    return [
        process.pid
        for process in psutil.Process().children(recursive=True)
        if "ServeReplica:live-canvas:LiveCanvas" in " ".join(_cmdline(process))
    ]


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return []
