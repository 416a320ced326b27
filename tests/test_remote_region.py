"""Region frames through a server (the service behind the standard library's HTTP server, no
Ray): only the crop travels each way, and the picture is the local engine's."""

from __future__ import annotations

import numpy as np
import pytest
from doubles import FakeEngine
from service_http import serving

from desktop_app.core.errors import InvalidRequestError
from desktop_app.core.region import Box
from desktop_app.core.types import RenderRequest
from desktop_app.core.wire import Reply, WireError, crop_body, pack, read_call, read_crop, unpack
from desktop_app.remote.engine import connect
from desktop_app.serving.service import FrameService


@pytest.fixture
def served(engine):
    with serving(engine, replica="r1") as server:
        yield server


def kept() -> np.ndarray:
    ramp = np.linspace(0, 255, 512).astype(np.uint8)
    return np.stack([np.tile(ramp, (512, 1)), np.tile(ramp[:, None], (1, 512)),
                     np.full((512, 512), 60, np.uint8)], axis=2)


def region_request(sketch, **kw) -> RenderRequest:
    mask = np.zeros(sketch.shape[:2], bool)
    mask[200:300, 150:260] = True
    return RenderRequest(sketch=sketch, prompt="a house", seed=5, keep=kept(), region=mask,
                         request_id=7, **kw)


@pytest.mark.parametrize("mode", ["scribble", "colour"])
def test_a_remote_region_frame_is_the_local_one(engine, served, sketch, mode):
    remote = connect(served.url, reply=Reply("png"))
    request = region_request(sketch, mode=mode)
    result = remote.render(request)
    local = engine.render(request)
    np.testing.assert_array_equal(result.image, local.image)
    assert result.params.composed and result.latents is None and result.request_id == 7
    assert remote.export_image(result) is result.image  # exported as it is shown
    # only the crop went each way: a whole frame's picture is several times the bytes
    whole = remote.render(RenderRequest(sketch=sketch, prompt="a house", seed=5))
    assert result.remote.bytes_down * 2 < whole.remote.bytes_down
    assert result.remote.bytes_up < whole.remote.bytes_up + 30_000


def test_a_live_region_frame_keeps_the_picture_outside_exactly(served, sketch):
    """JPEG replies change the crop's pixels, never the kept picture's."""
    remote = connect(served.url)
    request = region_request(sketch)
    result = remote.render(request)
    from desktop_app.core.region import feather_alpha, mask_at_size

    outside = feather_alpha(mask_at_size(request.region, 512), 16) == 0
    assert np.array_equal(result.image[outside], request.keep[outside])


def test_a_server_whose_engine_renders_no_crops_says_so(sketch):
    with serving(FakeEngine(model="fake")) as server:
        remote = connect(server.url)
        with pytest.raises(InvalidRequestError, match="does not render region frames"):
            remote.render(region_request(sketch))


def _crop_call(sketch, box_list, colour=None, mode="scribble"):
    request = RenderRequest(sketch=sketch, colour=colour, mode=mode, size=512)
    header, images = crop_body(request, Box(0, 0, 64, 64))
    header["crop"]["box"] = box_list
    header, payload = unpack(pack(header, images))
    from desktop_app.core.wire import decode_images

    call = read_call(header, *decode_images(header, payload))
    return header, call.request


@pytest.mark.parametrize(
    "box,shape,message",
    [
        ([0, 0, 64], (64, 64), r"\[top, left, height, width\]"),
        ([0, 0, 60, 64], (60, 64), "multiples of 64"),
        ([0, 0, 64, 64.0], (64, 64), "whole pixels"),
        ([448, 0, 128, 64], (128, 64), "reaches outside the 512x512 page"),
        ([0, 0, 128, 128], (64, 64), "the crop's sketch is 64x64, and its box 128x128"),
    ],
)
def test_bad_crops_are_refused_in_one_line(box, shape, message):
    header, request = _crop_call(np.full((*shape, 3), 255, np.uint8), box)
    with pytest.raises(WireError, match=message) as caught:
        read_crop(header, request)
    assert caught.value.status == 400


def test_a_colour_crop_needs_the_kept_pictures_crop_and_no_export(engine):
    header, request = _crop_call(np.full((64, 64, 3), 255, np.uint8), [0, 0, 64, 64],
                                 mode="colour")
    with pytest.raises(WireError, match="needs the kept picture's crop"):
        read_crop(header, request)
    service = FrameService(engine)
    sketch = np.full((64, 64, 3), 255, np.uint8)
    body = pack(*crop_body(RenderRequest(sketch=sketch), Box(0, 0, 64, 64)))
    with pytest.raises(WireError, match="exported as it is shown"):
        service.accept(body, export=True)
