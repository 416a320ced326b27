"""The floor under the remote path: Ray Serve's HTTP proxy alone, with a replica that reads
the body and answers a body of a frame's size (no decoding, no model), timed by the app's own
client connection. What ``bench --server`` reports above this is ours.

    .venv/bin/python benchmarks/serve_floor.py --requests 300 --up 6000 --down 26000
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--up", type=int, default=6000, help="request body bytes")
    parser.add_argument("--down", type=int, default=26000, help="reply body bytes")
    args = parser.parse_args(argv)

    import logging

    import ray
    from ray import serve
    from ray.serve.config import HTTPOptions
    from starlette.requests import Request
    from starlette.responses import Response

    from desktop_app.remote.address import ServerAddress
    from desktop_app.remote.connection import ServerConnection

    reply = os.urandom(args.down)

    @serve.deployment(max_ongoing_requests=4, ray_actor_options={"num_cpus": 1})
    class Echo:
        async def __call__(self, request: Request) -> Response:
            body = b"".join([chunk async for chunk in request.stream()])
            assert body  # read in full, as a frame is
            return Response(reply)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(address="local", include_dashboard=False, logging_level=logging.WARNING)
    serve.start(http_options=HTTPOptions(host="127.0.0.1", port=port))
    serve.run(Echo.bind(), name="floor", route_prefix="/")
    connection = ServerConnection(ServerAddress.parse(f"127.0.0.1:{port}"))
    body = os.urandom(args.up)
    times = []
    for i in range(args.requests + 20):
        start = time.perf_counter()
        answer = connection.request("POST", "/v1/frame", body)
        assert answer.status == 200 and len(answer.body) == args.down
        if i >= 20:
            times.append((time.perf_counter() - start) * 1000)
        time.sleep(0.05)  # as a client between frames: idle, then one request
    serve.shutdown()
    ray.shutdown()
    times.sort()
    report = {
        "requests": args.requests,
        "up_bytes": args.up,
        "down_bytes": args.down,
        "round_trip_ms": {
            "median": statistics.median(times),
            "p95": times[int(len(times) * 0.95) - 1],
        },
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join(sys.argv),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
