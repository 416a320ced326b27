"""The frame path: (sketch, prompt, settings) → image, built for latency.

Instead of calling a diffusers pipeline per frame (which re-encodes the prompt, re-draws the
noise, round-trips the ControlNet input through PIL and decodes with the full VAE every
time), the engine keeps everything that does not change between strokes and runs only the
model forwards and the tiny decoder per frame. The sampler is Euler in sigma space, written
out here so that no step needs the host to look at device values; where its steps start and
end (trailing for the turbo models, the model's own scheduler for the SD 1.5 family) is
``sampling.py``'s.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Iterable

import numpy as np
import torch

from desktop_app.core.errors import InvalidRequestError, RenderCancelled
from desktop_app.core.region import Box
from desktop_app.core.resources import is_frozen
from desktop_app.core.types import (
    EngineInfo,
    FinishProgress,
    FinishRequest,
    FrameResult,
    GenerationParams,
    Img2ImgRequest,
    RenderRequest,
    new_load_id,
)
from desktop_app.engine import finish, img2img, region
from desktop_app.engine.cancellation import CancelPoints, cancellable_models
from desktop_app.engine.cpu_weights import pack_if_supported, release_freed_memory
from desktop_app.engine.device import Placement, StageClock, configure_cpu_threads
from desktop_app.engine.forwards import compile_forwards, to_channels_last
from desktop_app.engine.loras import LoraFusion, Loras
from desktop_app.engine.outputs import out_of_memory_says_so, timings_of, to_uint8
from desktop_app.engine.parts import ModelParts
from desktop_app.engine.sampling import Sampling, Schedule
from desktop_app.engine.sketch import (
    control_from_canvas,
    control_from_sketch,
    resize_on_device,
    to_device_image,
)
from desktop_app.engine.text import PromptEncoder, TextConditioning

_NOISE_CACHE_SIZE = 4
OPTIMISING = "optimising for this device: the first start takes a minute or two"


class Engine:
    """Owns the loaded model on one device; call from one thread at a time."""

    def __init__(
        self,
        parts: ModelParts,
        placement: Placement,
        compile_models: bool = False,
        compile_backend: str = "inductor",
        progress: Callable[[str], None] | None = None,
    ):
        """``progress`` hears how far the weights' new layout is (over a second for SDXL on
        a small CPU); a load given up for another model stops there (it raises)."""
        if compile_models and compile_backend == "inductor" and is_frozen():
            # Inductor builds C++ and Triton code with the Python headers, a compiler and
            # triton: the desktop bundle carries none of them (triton alone is 900 MB).
            raise InvalidRequestError(
                "--compile needs live-canvas installed with pip (pip install -e . in a "
                "checkout); the desktop bundle renders without it"
            )
        self.parts = parts
        self.device, self.dtype = placement.device, placement.dtype
        if self.device.type == "cpu":
            configure_cpu_threads()
        # fp16 overflows in VAEs that ask to be upcast (the stock SDXL VAE gives black images).
        upcast = getattr(parts.vae.config, "force_upcast", False)
        needs_upcast = self.dtype == torch.float16 and upcast
        self.vae_dtype = torch.float32 if needs_upcast else self.dtype
        for module in (parts.unet, parts.controlnet, *parts.text_encoders, parts.tae):
            if module is not None:
                module.to(self.device, self.dtype).eval().requires_grad_(False)
        parts.vae.to(self.device, self.vae_dtype).eval().requires_grad_(False)
        # Convolutions run fastest channels-last on both cuDNN and oneDNN; for the tiny
        # decoder it also leaves the image in pixel order, so the host copy needs no shuffle.
        for what, module in (("UNet", parts.unet), ("ControlNet", parts.controlnet)):
            to_channels_last(module, progress, f"laying out the {what} for {self.device}")
        to_channels_last(parts.tae, None, "")
        # Not with --compile: its graphs take plain weights (and inductor can pack its own).
        self.packed_weights = None
        if not compile_models:
            models = (parts.unet, parts.controlnet, parts.tae)
            self.packed_weights = pack_if_supported(models, self.device, self.dtype)
        self.loras = LoraFusion(parts)
        self.is_sdxl = parts.family == "sdxl"
        self.prompts = PromptEncoder(
            parts.tokenizers, parts.text_encoders, self.device, self.is_sdxl
        )
        self.sampling = Sampling(parts.scheduler_config, self.device)
        self._noise: OrderedDict[tuple[int, int], torch.Tensor] = OrderedDict()
        self._time_ids: dict[int, torch.Tensor] = {}
        self.load_id = new_load_id()
        self.info = EngineInfo(
            model=parts.name,
            family=parts.family,
            device=str(self.device),
            dtype=placement.dtype_name,
            preview_decoder=parts.preview_decoder,
            is_noise=parts.is_noise,
            warnings=(*parts.warnings, *self.sampling.warnings),
            load_id=self.load_id,
            licence=parts.licence,
        )
        self.cancel_points = CancelPoints(() if compile_models else cancellable_models(parts))
        self.compiled = compile_models
        self._cuda_graphs = False
        if compile_models:
            self._compile(compile_backend)

    def _compile(self, backend: str) -> None:
        """Swap the per-frame forwards for compiled ones (``forwards.compile_forwards``)."""
        modules = [self.parts.unet, self.parts.controlnet]
        if self.parts.tae is not None:
            modules.append(self.parts.tae.decoder)
        self._cuda_graphs = compile_forwards(modules, self.device, backend)

    def warm_up(
        self, sizes: Iterable[int] = (512,), progress: Callable[[str], None] | None = None
    ) -> None:
        """Render a blank page at each size, so that compiling (and recording CUDA graphs)
        happens now rather than on the first stroke. Colour mode and every control scale
        reuse the scribble graphs (see ``_render``), so one mode is enough."""
        if progress:
            progress(OPTIMISING)
        for size in sizes:
            blank = np.full((size, size, 3), 255, np.uint8)
            # CUDA graph trees run a new graph eagerly once, record it on the second call
            # and replay it from the third.
            for _ in range(2 if self._cuda_graphs else 1):
                # With the styles in use: a request without them would take them off.
                self.render(RenderRequest(sketch=blank, size=size, loras=self.loras.applied))

    def set_loras(self, loras: Loras, progress: Callable[[str], None] | None = None) -> None:
        """Fuse exactly these LoRA styles (``loras.py``); nothing to do when they already are.
        Packed CPU weights are unpacked around it and compiled graphs warmed up again, so
        frames stay as fast as without styles; a file that does not fit leaves the model as
        it was (ModelLoadError)."""
        if loras == self.loras.applied:
            return
        if progress:
            progress("applying styles")
        # Weights packed now are unpacked around the fusion and packed again after it.
        packing = self.packed_weights
        if packing is not None and not packing.packed:
            packing = None  # unpacked already (the benchmark's stock pipeline): left so
        if packing is not None:
            packing.unpack()
        try:
            with torch.inference_mode(False), torch.no_grad():
                self.loras.apply(loras)
        finally:
            if packing is not None:
                packing.pack()
                release_freed_memory()
        self.prompts.forget()  # the text encoders may have changed
        if self.compiled:
            self.warm_up(sorted({size for _seed, size in self._noise}) or (512,), progress)

    # -- cached per-frame inputs -------------------------------------------------------------

    def noise(self, seed: int, size: int) -> torch.Tensor:
        """Drawn on the CPU so a seed gives the same picture on every device; fixed per
        (seed, size) so the frames of a sketch in progress do not flicker."""
        key = (seed, size)
        if key not in self._noise:
            gen = torch.Generator("cpu").manual_seed(seed)
            shape = (1, 4, size // 8, size // 8)
            # fp32: the sampler's arithmetic stays in fp32, as diffusers' schedulers keep it;
            # in fp16, sigma * noise at sigma ~ 14.6 would lose the detail the model adds.
            self._noise[key] = torch.randn(shape, generator=gen).to(self.device)
            while len(self._noise) > _NOISE_CACHE_SIZE:
                self._noise.popitem(last=False)
        return self._noise[key]

    def schedule(self, steps: int, strength: float | None) -> Schedule:
        """``steps`` denoising steps from noise level ``strength`` (1 or None: pure noise);
        see ``sampling.Sampling``."""
        return self.sampling.schedule(steps, strength)

    def _added_cond(self, pooled: torch.Tensor | None, size: int) -> dict | None:
        if not self.is_sdxl:
            return None
        if size not in self._time_ids:
            # original size, crop top-left, target size: an uncropped square image
            ids = torch.tensor([[size, size, 0, 0, size, size]], dtype=self.dtype)
            self._time_ids[size] = ids.to(self.device)
        return {"text_embeds": pooled, "time_ids": self._time_ids[size]}

    # -- the frame -----------------------------------------------------------------------------

    @torch.inference_mode()
    def render(
        self, request: RenderRequest, should_cancel: Callable[[], bool] | None = None
    ) -> FrameResult:
        """``should_cancel`` is polled before every block of the ControlNet and the UNet (and
        between steps), so a closing window or a newer request waits for one block, not a
        frame; the frame then raises ``RenderCancelled``."""
        should_cancel = should_cancel or _never
        self.set_loras(request.loras)  # the worker applies them before, timed apart
        with (
            out_of_memory_says_so(self.device, request.size),
            self.cancel_points.armed(should_cancel),
        ):
            return self._render(request, should_cancel)

    def render_crop(
        self, request: RenderRequest, box: Box, should_cancel: Callable[[], bool] | None = None
    ) -> FrameResult:
        """A region frame's crop alone, cut by a client: how a server renders a region frame,
        so that only the crop travels each way (``region.render_sent_crop``)."""
        return region.render_sent_crop(self, request, box, should_cancel or _never)

    def render_batch(
        self, requests: list[RenderRequest], should_cancel: Callable[[], bool] | None = None
    ) -> list[FrameResult]:
        """Frames of one size, step count and styles in one forward (``batch.py``)."""
        from desktop_app.engine.batch import PromptCache, render_batch

        self._prompt_cache = getattr(self, "_prompt_cache", None) or PromptCache()
        return render_batch(self, requests, should_cancel, self._prompt_cache)

    def _render(self, req: RenderRequest, should_cancel: Callable[[], bool]) -> FrameResult:
        clock = StageClock(self.device)
        colour = req.mode == "colour"
        if self._cuda_graphs:
            # Each frame is one CUDA graph generation: the next replay may overwrite this
            # frame's graph outputs. None of them outlives the frame: ``out`` and the decoded
            # image are consumed within it, and the latents kept in FrameResult (for export)
            # are made by the eager Euler arithmetic below, never a graph output, so no clone
            # is needed. Marking the step also keeps a cancelled frame's outputs (held by its
            # traceback) from tying the next frame's graphs into a new recording.
            torch.compiler.cudagraph_mark_step_begin()
        if req.region is not None:  # only a crop around the region (region.py)
            return region.render_region(self, req, should_cancel, clock)

        sched = self.schedule(req.steps, req.strength if colour else None)
        control, latents = self._start_latents(req, sched)
        clock.lap()  # preprocess

        text = self.prompts.encode(req.prompt)
        clock.lap()  # text encode

        added = self._added_cond(text.pooled, req.size)
        latents = self.denoise(sched, control, latents, text, added, req, should_cancel)
        clock.lap()  # denoise

        _check(should_cancel)
        decoded = self._decode_preview(latents)
        clock.lap()  # decode
        return self._result(decoded, latents, self._params(req), clock, req.request_id, text)

    def _result(
        self,
        decoded: torch.Tensor,
        latents: torch.Tensor,
        params: GenerationParams,
        clock: StageClock,
        request_id: int,
        text: TextConditioning,
    ) -> FrameResult:
        """The decoded picture on the host, with what made it and how long each stage took
        (a frame's, an image-to-image pass's)."""
        image = to_uint8(decoded)
        clock.lap()  # convert
        return FrameResult(
            image=image,
            params=params,
            timings=timings_of(clock),
            request_id=request_id,
            latents=latents,
            warnings=text.warnings,
            load_id=self.load_id,
        )

    def _start_latents(
        self, req: RenderRequest, sched: Schedule
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The ControlNet's input and the noisy latents the first step starts from."""
        colour = req.mode == "colour"
        noise = self.noise(req.seed, req.size)
        control, image01 = self.page_control(req)
        if colour:
            if req.colour is not None:  # the colours under the lines (a reference photo)
                image01 = resize_on_device(
                    to_device_image(req.colour, self.device, self.dtype), req.size
                )
            assert image01 is not None, "page_control fits the sketch in colour mode"
            # The tiny encoder leaves its latents channels-last; compiled graphs are
            # specialised on strides, so both modes hand the UNet one layout and share a graph.
            latents = (self.encode_image(image01).float() + noise * sched.sigmas[0]).contiguous()
        else:
            latents = noise * sched.start_scale
        return control, latents

    def page_control(self, req: RenderRequest) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The ControlNet's input for the whole page (the sketch fitted to the size, as ink),
        and the fitted sketch in [0, 1] where it was made on the way (None on the CPU's
        scribble path, which reads the bytes directly)."""
        at_size = req.sketch.shape[:2] == (req.size, req.size)
        if self.device.type == "cpu" and at_size and req.mode != "colour":
            return control_from_sketch(req.sketch, self.dtype), None
        image01 = resize_on_device(to_device_image(req.sketch, self.device, self.dtype), req.size)
        return control_from_canvas(image01), image01

    def denoise(
        self,
        sched: Schedule,
        control: torch.Tensor,
        latents: torch.Tensor,
        text,
        added: dict | None,
        req: RenderRequest,
        should_cancel: Callable[[], bool],
    ) -> torch.Tensor:
        """``latents`` after ``sched``'s steps (a frame's, a region frame's crop's)."""
        for i, t in enumerate(sched.timesteps):
            _check(should_cancel)
            sigma, sigma_next = sched.sigmas[i], sched.sigmas[i + 1]
            model_in = (latents / math.sqrt(sigma * sigma + 1.0)).to(self.dtype)
            out = self.predict(model_in, t, text, control, added, req.control_scale)
            latents = self.sampling.euler_step(out, latents, sigma, sigma_next)
        if sched.end_scale is not None:  # a variance-preserving scheduler hands back x_VP
            latents = latents * sched.end_scale
        return latents

    def predict(
        self,
        model_in: torch.Tensor,
        t: torch.Tensor,
        text,
        control: torch.Tensor,
        added: dict | None,
        control_scale: float,
    ) -> torch.Tensor:
        """The UNet's output (fp32) at ``t``, with the ControlNet's residuals for ``control``;
        ``model_in`` is already scaled for the UNet, in the engine's dtype."""
        scale: float | torch.Tensor = control_scale
        if self.compiled:
            # Compiled graphs are specialised on Python numbers: as a tensor, every slider
            # position shares one ControlNet graph. At 0 the ControlNet still runs (its
            # residuals are zeros, which leave the UNet's sums unchanged) so that the UNet needs
            # no second graph without them, whose compile would stall the drawing mid-stroke.
            scale = torch.full((), control_scale, device=self.device)
        residuals = {}
        if control_scale > 0 or self.compiled:
            down, mid = self.parts.controlnet(
                model_in,
                t,
                encoder_hidden_states=text.embeds,
                controlnet_cond=control,
                conditioning_scale=scale,
                added_cond_kwargs=added,
                return_dict=False,
            )
            residuals = {
                "down_block_additional_residuals": down,
                "mid_block_additional_residual": mid,
            }
        return self.parts.unet(
            model_in,
            t,
            encoder_hidden_states=text.embeds,
            added_cond_kwargs=added,
            return_dict=False,
            **residuals,
        )[0].float()

    def _params(self, req: RenderRequest) -> GenerationParams:
        colour = req.mode == "colour"
        return self.params_of(
            req, req.mode, req.strength if colour else None, "Euler" if colour else None
        )

    def params_of(
        self,
        req: RenderRequest | Img2ImgRequest,
        mode: str,
        strength: float | None,
        sampler: str | None = None,
    ) -> GenerationParams:
        """What made a picture of ``req`` on this model: a frame's, an image-to-image
        pass's (``sampler`` None: the model's own)."""
        return GenerationParams(
            prompt=req.prompt,
            seed=req.seed,
            steps=req.steps,
            size=req.size,
            model=self.info.model,
            mode=mode,
            control_scale=req.control_scale,
            strength=strength,
            sampler=sampler or self.sampling.name,
            licence=self.info.licence,
            loras=self.loras.used,
        )

    def encode_image(self, image01: torch.Tensor) -> torch.Tensor:
        """Colours of the sketch → latents in the UNet's scaled space."""
        tae = self.parts.tae
        if tae is not None and getattr(tae, "encoder", None) is not None:
            return tae.encode(image01 * 2 - 1).latents
        vae = self.parts.vae
        if getattr(vae, "encoder", None) is None:  # the model's own tiny one, decoder only
            raise InvalidRequestError(
                f"colour mode needs an image encoder, and {self.info.model}'s tiny "
                "autoencoder has only its decoder: use scribble mode, or a preview decoder "
                "with an encoder (--preview-decoder madebyollin/taesd)"
            )
        dist = vae.encode((image01 * 2 - 1).to(self.vae_dtype)).latent_dist
        return (dist.mean * vae.config.scaling_factor).to(self.dtype)

    def _decode_preview(self, latents: torch.Tensor) -> torch.Tensor:
        if self.parts.tae is not None:
            return self.parts.tae.decode(latents.to(self.dtype)).sample
        return self._decode_full(latents)

    def _decode_full(self, latents: torch.Tensor) -> torch.Tensor:
        vae = self.parts.vae
        return vae.decode(latents.to(self.vae_dtype) / vae.config.scaling_factor).sample

    @torch.inference_mode()
    def render_img2img(
        self, request: Img2ImgRequest, should_cancel: Callable[[], bool] | None = None
    ) -> FrameResult:
        """``request.init`` refined by the model for its steps, guided by its sketch, decoded by
        the full VAE: diffusers' ControlNet img2img pipelines step for step (``img2img.py``).
        Its random numbers come from ``torch.Generator("cpu").manual_seed(request.seed)``, drawn
        as those pipelines draw them from such a ``generator`` (the VAE posterior's sample,
        then the noise), so a pipeline given that generator gets the same picture in fp32.
        ``should_cancel`` as in ``render``; the result exports as a frame does."""
        should_cancel = should_cancel or _never
        self.set_loras(request.loras)
        with (
            out_of_memory_says_so(self.device, request.size),
            self.cancel_points.armed(should_cancel),
        ):
            clock = StageClock(self.device)
            latents, text = img2img.denoise(self, request, should_cancel, clock)
            decoded = self._decode_full(latents)
            clock.lap()  # decode
            params = self.params_of(request, "img2img", request.strength)
            return self._result(decoded, latents, params, clock, request.request_id, text)

    def finish(
        self,
        request: FinishRequest,
        progress: Callable[[FinishProgress], None] | None = None,
        should_cancel: Callable[[], bool] | None = None,
    ) -> FrameResult:
        """The picture of ``request`` upscaled, refined for its steps and decoded by the full
        VAE, tiled where memory requires (``finish.py``); ``progress`` hears each stage and
        step, ``should_cancel`` is polled as in ``render``."""
        return finish.finish(self, request, progress, should_cancel)

    @torch.inference_mode()
    def export_image(
        self, result: FrameResult, should_cancel: Callable[[], bool] | None = None
    ) -> np.ndarray:
        """The frame again, decoded by the full VAE from its stored latents (no UNet rerun);
        ``should_cancel`` is polled before each decoder block, as in ``render``."""
        if result.latents is None:
            return result.image
        with (
            out_of_memory_says_so(self.device, result.params.size),
            self.cancel_points.armed(should_cancel or _never),
        ):
            return to_uint8(self._decode_full(result.latents.to(self.device)))


def _never() -> bool:
    return False


def _check(should_cancel: Callable[[], bool]) -> None:
    if should_cancel():
        raise RenderCancelled("the frame was cancelled")
