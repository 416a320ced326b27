"""Batching and per-artist tokens through Ray Serve's real proxy: one fp32 CPU replica of the
tiny model, four artists with keys of their own drawing at once."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest

pytest.importorskip("ray.serve")
pytestmark = pytest.mark.serve

from serve_helpers import sketch_for, start_server  # noqa: E402

from desktop_app.bench.tools import one_torch_thread  # noqa: E402
from desktop_app.core.errors import LiveCanvasError  # noqa: E402
from desktop_app.core.types import RenderRequest  # noqa: E402
from desktop_app.core.wire import Reply  # noqa: E402
from desktop_app.remote.engine import connect  # noqa: E402

ARTISTS = {name: f"{name}-token-0123456789abcdef" for name in ("ann", "ben", "cat", "dan")}


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    folder = tmp_path_factory.mktemp("studio")
    tokens = folder / "artists"
    tokens.write_text("".join(f"{n} {t}\n" for n, t in ARTISTS.items()))
    os.chmod(tokens, 0o600)
    for name, token in ARTISTS.items():
        (folder / name).write_text(token)
    # A long wait, so that frames of four threads on a slow shared machine meet in batches.
    server, url = start_server(
        replicas=1, token=None, dtype="float32", max_batch=4, batch_wait_ms=400,
        tokens_file=str(tokens),
    )
    yield url, folder
    server.stop()


@pytest.fixture(scope="module")
def local_fp32():
    from desktop_app.engine.loading import load_engine

    return load_engine("tiny", device="cpu", dtype="float32")


def _client(studio, name):
    url, folder = studio
    return connect(url, token_file=str(folder / name), reply=Reply("png"))


def _request(artist: int, n: int) -> RenderRequest:
    colour = artist == 2
    return RenderRequest(
        sketch=sketch_for(artist * 10 + n),
        prompt=f"artist {artist % 2}",  # two prompts among four artists
        seed=artist * 100 + n,
        size=320 if artist == 3 else 256,  # never stacked with the others
        mode="colour" if colour else "scribble",
        strength=0.7,
        control_scale=(1.0, 0.5, 0.8, 1.0)[artist],
        request_id=n + 1,
    )


def test_four_artists_share_forwards_and_each_gets_their_own_pictures(studio, local_fp32):
    results: dict[int, list] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(len(ARTISTS))

    def draw(index: int, name: str) -> None:
        try:
            engine = _client(studio, name)
            start.wait()
            results[index] = [engine.render(_request(index, n)) for n in range(3)]
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=draw, args=item) for item in enumerate(ARTISTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    assert not errors, errors
    sizes = {i: [r.remote.server.batch_size for r in results[i]] for i in results}
    assert max(max(s) for s in sizes.values()) > 1, sizes  # batches formed
    assert sizes[3] == [1, 1, 1]  # the one 320² artist never shared a forward
    with one_torch_thread():
        for index, frames in results.items():
            for n, result in enumerate(frames):
                alone = local_fp32.render(_request(index, n))
                assert result.params == alone.params
                difference = np.abs(result.image.astype(int) - alone.image.astype(int)).max()
                assert difference <= 1, (index, n, sizes[index][n], difference)


def test_a_token_removed_from_the_file_is_refused_within_seconds(studio):
    url, folder = studio
    dan = _client(studio, "dan")
    dan.render(_request(0, 0))
    tokens = folder / "artists"
    tokens.write_text("".join(f"{n} {t}\n" for n, t in ARTISTS.items() if n != "dan"))
    deadline = time.monotonic() + 10
    refused = None
    while time.monotonic() < deadline and refused is None:
        try:
            _client(studio, "dan").render(_request(0, 1))
            time.sleep(0.2)
        except LiveCanvasError as err:
            refused = str(err)
    assert refused is not None and "token" in refused
    assert _client(studio, "ann").render(_request(0, 2)).image.shape == (256, 256, 3)


def test_a_token_not_in_the_file_is_refused(studio, tmp_path):
    url, _ = studio
    stranger = tmp_path / "stranger"
    stranger.write_text("not-one-of-the-studio-0123456789")
    with pytest.raises(LiveCanvasError, match="token"):
        connect(url, token_file=str(stranger)).render(_request(0, 0))
