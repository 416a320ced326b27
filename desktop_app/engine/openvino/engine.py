"""``--backend openvino``: the PyTorch engine's frame, with its model forwards in OpenVINO.

Everything but the forwards is the PyTorch engine's own code (``renderer.Engine``): the noise,
the schedule, the Euler step, the prompt encoding (torch, cached per prompt), the sketch's
conditioning; so an fp32 OpenVINO frame can be compared with a PyTorch frame number for
number (tests/engine/test_openvino.py). The ControlNet, the UNet and the tiny decoder (and
its encoder, for colour mode) run as OpenVINO models compiled for the frame's size, made on
first use of that size from the loaded torch modules (LoRAs fused) and cached on disk
(``cache.py``). Image-to-image passes, exports and region crops of other shapes run the torch
modules, as the PyTorch engine does.

Frame sizes: the first frame of a size converts it (minutes, once; the load's listener hears
the progress, so the window shows it), except a size smaller than one already used: those are
the window's frames in motion, which stay quick with the torch forwards (a conversion would
stall the stroke for minutes), as do image-to-image passes and region crops of other shapes.

Limits: a frame is cancelled between steps and before the decoder, not inside a forward (the
PyTorch engine's cancel points are hooks on torch modules).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import torch

from desktop_app.core.types import RenderRequest
from desktop_app.engine.device import Placement
from desktop_app.engine.openvino import calibration, convert
from desktop_app.engine.openvino.cache import ConversionCache, key, weights_fingerprint
from desktop_app.engine.openvino.forwards import Forwards
from desktop_app.engine.openvino.target import Target, import_openvino
from desktop_app.engine.parts import ModelParts
from desktop_app.engine.renderer import Engine

OPTIMISING = "optimising for this computer (once)"
# The int8 tiny decoder holds 35 dB against fp32 on photographs from 512x512 up (39-43 dB);
# at 256 it fell to 34.6 on one, for a saving of about 0.1 s: smaller frames decode in fp32.
INT8_DECODER_MIN_SIZE = 512
Progress = Callable[[str], None]


class OpenVinoEngine(Engine):
    def __init__(
        self,
        parts: ModelParts,
        target: Target,
        cache: ConversionCache | None = None,
        progress: Progress | None = None,
    ):
        # The torch side (text encoders, image-to-image, exports) in fp32 on the CPU; the
        # converted models start from these fp32 weights.
        super().__init__(parts, Placement(torch.device("cpu"), torch.float32), progress=progress)
        self._ov = import_openvino()
        self._core = self._ov.Core()
        self.target = target
        self.cache = cache or ConversionCache()
        self._forwards: dict[tuple[int, ...], Forwards] = {}
        self._torch_forwards = False
        self._fingerprint: tuple[object, str] | None = None
        self._say = progress  # the load's listener (the window): hears later conversions too
        # Conversion + compile time per size prepared (kept across style changes, unlike
        # _forwards): also which sizes frames in motion are smaller than.
        self.prepare_seconds: dict[int, float] = {}
        self.info = dataclasses.replace(
            self.info,
            device=f"openvino:{target.device}",
            dtype=target.precision,
            warnings=(*self.info.warnings, *self.cache.warnings),
        )

    # -- preparing a size --------------------------------------------------------------------

    def entry_key(self, size: int, precision: str) -> str:
        applied = self.loras.applied
        if self._fingerprint is None or self._fingerprint[0] != applied:
            modules = (self.parts.unet, self.parts.controlnet, self.parts.tae)
            self._fingerprint = (applied, weights_fingerprint(modules))
        return key(
            model=self.info.model,
            family=self.parts.family,
            weights=self._fingerprint[1],
            loras=applied,
            size=size,
            precision=precision,
            int8_scope=self.target.int8_scope if precision == "int8" else None,
        )

    def _parts_to_convert(self) -> list[str]:
        parts = ["controlnet", "unet"]
        tae = self.parts.tae
        if tae is not None:
            parts.append("decoder")
            if getattr(tae, "encoder", None) is not None:
                parts.append("encoder")
        return parts

    def prepare(self, size: int, progress: Progress | None = None) -> None:
        """The models for frames of ``size``: from the cache, else converted (and for the
        8-bit precisions compressed or quantized) and stored; then compiled."""
        shape = (1, 4, size // 8, size // 8)
        if shape in self._forwards:
            return
        start = time.perf_counter()
        models = self._models(size, self.target.precision, progress or (lambda _m: None))
        self._forwards[shape] = self._compile_models(models, progress)
        self.prepare_seconds[size] = time.perf_counter() - start

    def _compile_models(self, models: dict, progress: Progress | None) -> Forwards:
        compiled = {}
        for part, model in models.items():
            if progress:
                progress(f"{OPTIMISING}: compiling the {part} for {self.target.device}")
            compiled[part] = self._core.compile_model(model, self.target.device, self.target.config)
        return Forwards(self._ov, compiled)

    def _models(self, size: int, precision: str, say: Progress) -> dict:
        entry = self.entry_key(size, precision)
        models = {part: self.cache.load(entry, part) for part in self._parts_to_convert()}
        missing = [part for part, model in models.items() if model is None]
        if not missing:
            return models
        if precision == "int8":
            made = self._quantized(size, missing, say)
        else:
            shapes = convert.shapes_of(self, size)
            made = {}
            for n, part in enumerate(missing, 1):
                say(f"{OPTIMISING}: converting the {part} at {size}x{size} ({n}/{len(missing)})")
                model = convert.convert_part(self, part, shapes)
                if precision == "int8-weights":
                    say(f"{OPTIMISING}: 8-bit weights for the {part}")
                    model = convert.compress_weights(model)
                made[part] = model
        for part, model in made.items():
            self.cache.store(entry, part, model)
            models[part] = model
        return models

    def _quantized(self, size: int, missing: list[str], say: Progress) -> dict:
        """int8: the fp32 models (cached too) run the calibration frames, recording every
        forward's inputs; NNCF then quantizes each part on its own recorded inputs. The
        encoder is not in a frame's path in scribble mode: it gets 8-bit weights only; the
        decoder of frames under INT8_DECODER_MIN_SIZE stays fp32."""
        fp32 = self._models(size, "fp32", say)
        forwards = self._compile_models(fp32, None)
        forwards.recording = {}
        shape = (1, 4, size // 8, size // 8)
        self._forwards[shape] = forwards
        try:
            requests = calibration.requests(size)
            for n, request in enumerate(requests, 1):
                say(f"{OPTIMISING}: calibrating 8-bit arithmetic, frame {n}/{len(requests)}")
                super().render(dataclasses.replace(request, loras=self.loras.applied))
        finally:
            del self._forwards[shape]
        recorded = forwards.recording
        made = {}
        for part in missing:
            if part == "decoder" and size < INT8_DECODER_MIN_SIZE:
                made[part] = fp32[part]
                continue
            say(f"{OPTIMISING}: quantizing the {part} to 8 bits")
            if part == "encoder":
                made[part] = convert.compress_weights(fp32[part])
            else:
                made[part] = convert.quantize(
                    fp32[part], recorded[part], part != "decoder", self.target.int8_scope
                )
        return made

    # -- the frame ---------------------------------------------------------------------------

    def set_loras(self, loras, progress: Progress | None = None) -> None:
        if loras == self.loras.applied:
            return
        super().set_loras(loras, progress)
        self._forwards.clear()  # the weights changed: other models (converted or cached)

    def render(self, request: RenderRequest, should_cancel=None):
        self.set_loras(request.loras)
        if not any(request.size < prepared for prepared in self.prepare_seconds):
            self._prepare_telling(request.size)
        return super().render(request, should_cancel)

    def _prepare_telling(self, size: int) -> None:
        """``prepare`` for a frame, its progress told to the load's listener, cleared after."""
        if (1, 4, size // 8, size // 8) in self._forwards:
            return
        try:
            self.prepare(size, self._say)
        finally:
            if self._say is not None:
                self._say("")

    def warm_up(self, sizes=(512,), progress: Progress | None = None) -> None:
        for size in sizes:
            self.prepare(size, progress)
        super().warm_up(sizes, None)

    def predict(self, model_in, t, text, control, added, control_scale):
        forwards = None if self._torch_forwards else self._forwards.get(tuple(model_in.shape))
        if forwards is None:
            return super().predict(model_in, t, text, control, added, control_scale)
        return forwards.predict(model_in, t, text, control, added, control_scale)

    def _decode_preview(self, latents: torch.Tensor) -> torch.Tensor:
        forwards = self._forwards.get(tuple(latents.shape))
        if forwards is None or "decoder" not in forwards.requests:
            return super()._decode_preview(latents)
        return forwards.decode(latents)

    def encode_image(self, image01: torch.Tensor) -> torch.Tensor:
        size = image01.shape[-1]
        forwards = self._forwards.get((1, 4, size // 8, size // 8))
        if forwards is None or "encoder" not in forwards.requests or image01.shape[0] != 1:
            return super().encode_image(image01)
        return forwards.encode(image01 * 2 - 1)

    def render_img2img(self, request, should_cancel=None):
        """Image-to-image passes run at sizes of their own: the torch modules, as the
        PyTorch engine runs them."""
        self._torch_forwards = True
        try:
            return super().render_img2img(request, should_cancel)
        finally:
            self._torch_forwards = False


def load_openvino_engine(
    parts: ModelParts,
    device: str | None,
    precision: str | None,
    progress: Progress | None = None,
    cache: ConversionCache | None = None,
    sizes: tuple[int, ...] = (),
) -> OpenVinoEngine:
    """The engine for ``parts`` (loaded in fp32), prepared for frames of ``sizes``."""
    from desktop_app.engine.openvino.target import resolve_target

    engine = OpenVinoEngine(parts, resolve_target(device, precision), cache, progress)
    for size in sizes:
        engine.prepare(size, progress)
    return engine
