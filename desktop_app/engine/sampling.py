"""Where the steps of a frame start and end: the timesteps, their noise levels, and how the
pure-noise start is scaled.

The engine steps in sigma space (x̄ = x_VP / ᾱ^½, noise level σ = ((1 - ᾱ) / ᾱ)^½) with Euler,
whose one step is exactly DDIM's, and so exactly a first-order DEIS step. Schedulers differ
only in where that line starts and ends:

- the turbo models (and any model without its own supported scheduler) run the trailing Euler
  they are distilled for: start at σ_max · noise, land on σ = 0;
- a model whose folder names a scheduler the engine knows follows it: its own timestep
  spacing, its own start (Euler's ``init_noise_sigma``; a variance-preserving scheduler such as
  DEIS starts from standard-normal x_VP, which is (σ² + 1)^½ · noise in sigma space) and its
  own end (DEIS stops at the noise level of t = 0, not at 0, and hands back x_VP).

Colour mode (img2img) uses the engine's own trailing grid at every strength, whatever the
scheduler: diffusers' img2img at one step would run no step at all below strength 1.

Image-to-image passes (``img2img.py``: Finish, ``render --init``) are not frames: they step
with a fresh diffusers scheduler object (``img2img_scheduler``), so that they follow the
stock img2img pipelines step for step, second-order DEIS steps included.

The engine's steps are first order. DEIS's are too at one and two steps (its first step and
its last are first order below 15 steps); from three steps on it takes second-order steps in
between, and the engine's pictures then differ from the stock pipeline's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from diffusers import (
    DEISMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
)

from desktop_app.core.errors import ModelLoadError
from desktop_app.core.settings_table import SETTINGS

_SCHEDULE_CACHE_SIZE = 64  # one per (steps, strength) slider position in use

# The schedulers whose start and end the engine reproduces (see the module docstring).
# (The ancestral Euler re-noises between steps; the engine's steps stay deterministic, so a
# sketch's frames do not flicker. At one step the two are the same.)
_EULER = {"EulerDiscreteScheduler": "Euler", "EulerAncestralDiscreteScheduler": "Euler"}
_VARIANCE_PRESERVING = {"DEISMultistepScheduler": "DEIS"}
_CLASSES = {
    "EulerDiscreteScheduler": EulerDiscreteScheduler,
    "EulerAncestralDiscreteScheduler": EulerAncestralDiscreteScheduler,
    "DEISMultistepScheduler": DEISMultistepScheduler,
}


def stock_scheduler(config: dict):
    """The scheduler a diffusers pipeline runs for this model: its own where the engine follows
    it, else the trailing Euler the engine runs."""
    own = _CLASSES.get(config.get("_class_name") or "")
    if own is not None:
        return own.from_config(config)
    return EulerDiscreteScheduler.from_config(dict(config, timestep_spacing="trailing"))


@dataclass(frozen=True)
class Schedule:
    timesteps: tuple[torch.Tensor, ...]  # on the device, one per step
    sigmas: tuple[float, ...]  # len(timesteps) + 1
    start_scale: float  # pure noise starts at noise * start_scale (sigma space)
    end_scale: float | None = None  # the last latents times this (None: as they are)


class Sampling:
    """The schedules of one loaded model; ``config`` is its scheduler config."""

    def __init__(self, config: dict, device: torch.device):
        self.device = device
        name = config.get("_class_name")
        self.warnings: tuple[str, ...] = ()
        self._own = None
        if name in _CLASSES:
            self._own = self._usable(name, config)
            self.name = {**_EULER, **_VARIANCE_PRESERVING}[name]
            self._preserves_variance = name in _VARIANCE_PRESERVING
        elif name is not None:
            self.warnings = (
                f"the model's scheduler {name} is not one the live engine follows; frames use "
                "trailing Euler, as the turbo models do",
            )
        if self._own is None:
            self.name = "Euler"
            self._preserves_variance = False
        trailing = dict(config, timestep_spacing="trailing")
        try:
            self.trailing = EulerDiscreteScheduler.from_config(trailing)
        except Exception as err:  # noqa: BLE001 - a noise schedule diffusers cannot build
            first = (str(err).splitlines() or [type(err).__name__])[0]
            raise ModelLoadError(f"the model's scheduler config cannot be used: {first}") from None
        self.v_prediction = self.trailing.config.prediction_type == "v_prediction"
        alphas = self.trailing.alphas_cumprod.double().numpy()
        self._sigma_table = ((1 - alphas) / alphas) ** 0.5  # noise level of each train timestep
        self._schedules: dict[tuple[int, float | None], Schedule] = {}

    def euler_step(
        self, out: torch.Tensor, latents: torch.Tensor, sigma: float, sigma_next: float
    ) -> torch.Tensor:
        """One Euler step of a frame from ``sigma`` to ``sigma_next``, given the model's
        output ``out`` at ``latents``."""
        if self.v_prediction:
            denoised = out * (-sigma / math.sqrt(sigma**2 + 1)) + latents / (sigma**2 + 1)
        else:
            denoised = latents - sigma * out
        # Euler: move along the straight line from x to its estimate; at sigma 0 it lands.
        # (The turbo configs name the ancestral variant, which re-noises between steps with
        # fresh random numbers; the deterministic one keeps a sketch's frames from
        # flickering. At one step, the default, the two are the same.)
        return denoised + (latents - denoised) * (sigma_next / sigma)

    def img2img_scheduler(self):
        """A new diffusers scheduler for one image-to-image pass: the model's own where the
        engine follows it, with its own timestep spacing (an ancestral Euler as plain Euler,
        as frames step: its re-noising would draw numbers the stock pipeline draws
        differently), else the trailing Euler the turbo models are distilled for."""
        if self._own is None:
            return EulerDiscreteScheduler.from_config(self.trailing.config)
        cls = DEISMultistepScheduler if self._preserves_variance else EulerDiscreteScheduler
        return cls.from_config(self._own.config)

    def _usable(self, name: str, config: dict):
        """The model's scheduler, if its config gives a schedule at every step count the app
        offers; a hand-edited or foreign config falls back to trailing Euler, with a warning,
        rather than failing every frame."""
        try:
            own = _CLASSES[name].from_config(config)
            for steps in range(1, int(SETTINGS["steps"].bounds[1]) + 1):
                own.set_timesteps(steps)
        except Exception as err:  # noqa: BLE001 - any failure: the config is unusable
            first = (str(err).splitlines() or [type(err).__name__])[0]
            self.warnings = (
                f"the model's {name} config cannot be used ({first}); frames use trailing "
                "Euler, as the turbo models do",
            )
            return None
        return own

    def schedule(self, steps: int, strength: float | None) -> Schedule:
        """``steps`` denoising steps from noise level ``strength`` (None: pure noise)."""
        key = (steps, strength)
        if key not in self._schedules:
            if strength is None and self._own is not None:
                self._schedules[key] = self._own_schedule(steps)
            else:
                self._schedules[key] = self._trailing_schedule(steps, strength)
            while len(self._schedules) > _SCHEDULE_CACHE_SIZE:
                self._schedules.pop(next(iter(self._schedules)))
        return self._schedules[key]

    def _on_device(self, timesteps) -> tuple[torch.Tensor, ...]:
        return tuple(
            torch.tensor(float(t), dtype=torch.float32, device=self.device) for t in timesteps
        )

    def _trailing_schedule(self, steps: int, strength: float | None) -> Schedule:
        """diffusers' img2img meaning of strength (start ``strength`` of the way up the noise
        schedule) on evenly spaced "trailing" timesteps, as the turbo models are distilled
        for. Unlike picking a start index on a discrete N-step schedule, every strength gets
        its own start: at one step that grid would put all of 0.5–0.99 at t=499, and the
        strength slider would do nothing over half its range. At strength 1 this is exactly
        the scheduler's own trailing schedule."""
        level = 1.0 if strength is None else strength
        train_steps = len(self._sigma_table)
        # At least one timestep apart per step, and never below t=0.
        top = max(level * train_steps, steps)
        # Rounded as diffusers' trailing spacing rounds its own grid.
        timesteps = np.round(top * np.arange(steps, 0, -1) / steps) - 1
        sigmas = np.interp(timesteps, np.arange(train_steps), self._sigma_table)
        return Schedule(
            timesteps=self._on_device(timesteps),
            sigmas=(*(float(s) for s in sigmas), 0.0),
            start_scale=float(sigmas[0]),
        )

    def _own_schedule(self, steps: int) -> Schedule:
        """The model's scheduler at ``steps``: its timesteps and sigmas as it computes them."""
        own = self._own
        assert own is not None, "schedule() asks for this only when the model's own is usable"
        own.set_timesteps(steps)
        sigmas = tuple(float(s) for s in own.sigmas)
        if self._preserves_variance:
            start, end = math.sqrt(sigmas[0] ** 2 + 1), 1 / math.sqrt(sigmas[-1] ** 2 + 1)
        else:
            start, end = float(own.init_noise_sigma), None
        return Schedule(self._on_device(own.timesteps), sigmas, start, end)
