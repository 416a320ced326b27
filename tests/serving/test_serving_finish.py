"""Finish through Ray Serve's real HTTP proxy: the progress records stream through it step by
step, and the finished picture is the local engine's."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ray.serve")
pytestmark = pytest.mark.serve

from serve_helpers import TOKEN, sketch_for, start_server  # noqa: E402

from desktop_app.bench.tools import one_torch_thread  # noqa: E402
from desktop_app.core.types import FinishRequest, RenderRequest  # noqa: E402
from desktop_app.remote.engine import connect  # noqa: E402


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    server, url = start_server(replicas=1, heartbeat_s=0.25)
    token_file = tmp_path_factory.mktemp("token") / "token"
    token_file.write_text(TOKEN)
    yield url, str(token_file)
    server.stop()


def test_a_finish_streams_its_steps_through_the_proxy(served, local_tiny):
    url, token_file = served
    engine = connect(url, token_file=token_file, silence_s=5.0)
    sketch = sketch_for(3, 128)
    with one_torch_thread():  # as the replica renders (one CPU): the same arithmetic
        frame = local_tiny.render(RenderRequest(sketch=sketch, size=128, seed=4))
    request = FinishRequest(picture=frame.image, sketch=sketch, seed=4, scale=2, steps=8,
                            strength=0.5, first_pass=frame.params, request_id=5)
    heard = []
    result = engine.finish(request, progress=heard.append)
    assert [p.step for p in heard if p.stage == "refine"] == [0, 1, 2, 3, 4]
    assert heard[-1].stage == "decode" and result.request_id == 5
    with one_torch_thread():
        local = local_tiny.finish(request)
    np.testing.assert_array_equal(result.image, local.image)
    assert result.params.hires_upscale == 2
