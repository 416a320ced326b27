"""Every setting a user can change, declared once: name, type, default, range, and where it
is kept between runs.

The app's observable state, the preferences file, the autosaved session, a frame request's
validation and the command line's argument types all read this table, so a range or a
default is written in one place and a stored value is checked by the same rule as a live one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from desktop_app.core.errors import InvalidRequestError

Store = Literal["prefs", "session"]  # prefs: the settings file; session: the autosave
MODES: tuple[str, ...] = ("scribble", "colour")
LAYOUTS: tuple[str, ...] = ("side", "stacked")
TIMELAPSE_FORMATS: tuple[str, ...] = ("mp4", "webp")
TIMELAPSE_LAYOUTS: tuple[str, ...] = ("side", "picture")  # sketch | picture, or the picture
MAX_SEED = 2**32 - 1
MAX_PROMPT_CHARS = 4000
_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
MAX_LORAS = 8
# Finish: the scales the Export menu offers (any in 1..4 is accepted).
FINISH_SCALES: tuple[float, ...] = (1.5, 2.0, 3.0)
LORA_WEIGHT_RANGE = (-2.0, 2.0)


@dataclass(frozen=True)
class Setting:
    """One setting. ``check`` says, in one line, why a value is not allowed."""

    name: str
    kind: type  # str, int, float, bool, bytes, or tuple (LoRA styles: (file, weight) pairs)
    default: Any
    noun: str  # as a message names it: "control scale"
    store: Store | None = None
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # the low end is excluded: strength is in (0, 1]
    multiple_of: int | None = None
    choices: tuple[str, ...] | None = None
    max_chars: int | None = None
    # Text over max_chars is cut to fit rather than refused where it is kept or typed: a
    # prompt's first 4000 characters are worth more than no prompt at all.
    cut_to_fit: bool = False
    pattern: re.Pattern | None = None
    help: str = ""

    def check(self, value: Any) -> Any:
        """``value`` if it is allowed, else InvalidRequestError naming the rule."""
        if self.kind is tuple:
            return _check_loras(value, self.noun)
        if not self._is_kind(value):
            raise InvalidRequestError(f"{self.noun} must be {self._kind_words()}, got {value!r}")
        if self.choices is not None and value not in self.choices:
            raise InvalidRequestError(
                f"{self.noun} must be one of {', '.join(self.choices)}, got {value!r}"
            )
        if self.kind in (int, float):
            self._check_range(value)
        if self.max_chars is not None and len(value) > self.max_chars:
            raise InvalidRequestError(
                f"{self.noun} must be at most {self.max_chars} characters, got {len(value)}"
            )
        if self.pattern is not None and not self.pattern.fullmatch(value):
            raise InvalidRequestError(f"{self.noun} must look like #rrggbb, got {value!r}")
        return value

    def _is_kind(self, value: Any) -> bool:
        if self.kind is float:
            return (
                isinstance(value, (int, float))
                and not isinstance(value, bool)
                and math.isfinite(value)
            )
        if self.kind is int:
            return isinstance(value, int) and not isinstance(value, bool)
        return isinstance(value, self.kind)

    def _kind_words(self) -> str:
        return {
            int: "a whole number",
            float: "a number",
            bool: "true or false",
            bytes: "binary data",
        }.get(self.kind, "text")

    @property
    def bounds(self) -> tuple[float, float]:
        """(low, high) of a number setting."""
        # Every number in the table declares its range; one without is a mistake in the table.
        assert self.low is not None and self.high is not None, f"{self.name} has no range"
        return self.low, self.high

    def _check_range(self, value: float) -> None:
        lowest, highest = self.bounds
        low, high, got = _number(lowest), _number(highest), _number(value)
        multiple = self.multiple_of
        if multiple is not None and (value % multiple or not lowest <= value <= highest):
            raise InvalidRequestError(
                f"{self.noun} must be a multiple of {multiple} between {low} and "
                f"{high}, got {got}"
            )
        if self.low_open and not lowest < value <= highest:
            raise InvalidRequestError(f"{self.noun} must be in ({low}, {high}], got {got}")
        if not lowest <= value <= highest:
            raise InvalidRequestError(f"{self.noun} must be between {low} and {high}, got {got}")

    def parse_text(self, text: str) -> Any:
        """A value typed as text (a command-line argument), checked."""
        if self.kind in (int, float):
            try:
                value = self.kind(text)
            except ValueError:
                raise InvalidRequestError(
                    f"{self.noun} must be {self._kind_words()}, got {text!r}"
                ) from None
            return self.check(value)
        return self.check(text)

    def fitted(self, value: Any) -> Any:
        """``value`` cut to ``max_chars`` when this setting is cut to fit, else as it is."""
        if self.cut_to_fit and isinstance(value, str) and len(value) > (self.max_chars or 0):
            return value[: self.max_chars]
        return value

    def parse_stored(self, raw: Any) -> Any:
        """A value as a settings file or the autosave JSON holds it, checked. INI files keep
        everything as text, so numbers and booleans written as text are read back; text
        that is cut to fit comes back cut."""
        raw = self.fitted(raw)
        if isinstance(raw, str) and self.kind in (int, float):
            return self.parse_text(raw.strip())
        if isinstance(raw, str) and self.kind is bool and raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        if self.kind is float and isinstance(raw, int) and not isinstance(raw, bool):
            raw = float(raw)
        if self.kind is bytes and isinstance(raw, (bytearray, memoryview)):
            raw = bytes(raw)
        if self.kind is tuple and isinstance(raw, list):  # JSON has lists, not tuples
            raw = tuple(_as_pair(item) for item in raw)
        return self.check(raw)


SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in (
        Setting(
            "prompt", str, "", "the prompt", "session", max_chars=MAX_PROMPT_CHARS,
            cut_to_fit=True,
        ),
        # A prompt style's name ("" for none): its text goes around the prompt in each frame.
        Setting("prompt_style", str, "", "prompt style", "session", max_chars=60),
        Setting("preset", str, "sdxl-turbo", "model", "prefs", max_chars=4096),
        # The last model that ran here, for "Use a local model" after drawing against a server.
        Setting("local_preset", str, "", "local model", "prefs", max_chars=4096),
        Setting("server_token_file", str, "", "server token file", "prefs", max_chars=4096),
        Setting("server_ca_file", str, "", "server certificate file", "prefs", max_chars=4096),
        Setting(
            "mode",
            str,
            "scribble",
            "mode",
            "session",
            choices=MODES,
            help="scribble: lines guide a picture from noise; colour: the sketch's colours too",
        ),
        Setting(
            "control_scale",
            float,
            1.0,
            "control scale",
            "session",
            low=0.0,
            high=2.0,
            help="how closely to follow the sketch, 0..2 (default 1)",
        ),
        Setting(
            "strength",
            float,
            0.6,
            "strength",
            "session",
            low=0.0,
            high=1.0,
            low_open=True,
            help="colour mode: how far to move from the sketch's colours, (0, 1] (default 0.6)",
        ),
        Setting(
            "seed",
            int,
            0,
            "seed",
            "session",
            low=0,
            high=MAX_SEED,
            help="the noise the picture starts from: the same seed gives the same picture",
        ),
        Setting("seed_locked", bool, False, "seed lock", "session"),
        # The picture locked: a change repaints only where the sketch changed (region frames).
        Setting("picture_locked", bool, False, "picture lock", "session"),
        # LoRA styles fused into the model: (file, or a name in the styles folder; weight).
        Setting("loras", tuple, (), "LoRA styles", "session"),
        # The reference image under the strokes: how strongly it shows, whether it shows,
        # whether its line art joins the strokes as lines to follow.
        Setting(
            "reference_opacity", float, 0.5, "reference opacity", "session", low=0.0, high=1.0
        ),
        Setting("reference_visible", bool, True, "reference visibility", "session"),
        Setting("reference_lines", bool, True, "lines from the reference", "session"),
        Setting("steps", int, 1, "steps", "session", low=1, high=4, help="denoising steps, 1..4"),
        # Image-to-image (render --init; Finish's second pass): not kept, given per pass.
        Setting(
            "img2img_steps",
            int,
            4,
            "steps",
            low=1,
            high=50,
            help="image-to-image: the scheduler's steps, 1..50, of which int(steps × strength) "
            "run",
        ),
        # Finish (A1111's hires fix): the picture upscaled by the scale (remembered), then
        # refined for int(steps × strength) of steps; steps and strength are the turbo
        # models' defaults, which a model preset may set for itself (models/presets.py).
        Setting(
            "finish_scale",
            float,
            2.0,
            "finish scale",
            "prefs",
            low=1.0,
            high=4.0,
            help="Finish: how much larger the finished picture is, 1..4 (default 2)",
        ),
        Setting(
            "finish_steps",
            int,
            4,
            "finish steps",
            low=1,
            high=50,
            help="Finish: the scheduler's steps, 1..50, of which int(steps × strength) run "
            "(default 4)",
        ),
        Setting(
            "finish_strength",
            float,
            0.4,
            "finish strength",
            low=0.0,
            high=1.0,
            low_open=True,
            help="Finish: how far the second pass moves from the upscaled picture, (0, 1] "
            "(default 0.4)",
        ),
        Setting(
            "size",
            int,
            512,
            "size",
            "prefs",
            low=128,
            high=2048,
            multiple_of=64,
            help="side in pixels, a multiple of 64 (default 512)",
        ),
        Setting("live", bool, True, "live", "prefs"),
        # While a stroke is drawn, frames smaller than the size when this device is slow.
        Setting("stroke_previews", bool, True, "smaller frames while drawing", "prefs"),
        Setting("brush_size", int, 6, "brush size", "prefs", low=1, high=200),
        Setting("brush_colour", str, "#000000", "brush colour", "prefs", pattern=_COLOUR),
        Setting("layout", str, "side", "layout", "prefs", choices=LAYOUTS),
        Setting("export_dir", str, "", "export folder", "prefs", max_chars=4096),
        Setting("save_sketch", bool, False, "save the sketch with exports", "prefs"),
        # The session timelapse: recording is off until asked for; how it was last exported.
        Setting("timelapse_recording", bool, False, "timelapse recording", "prefs"),
        Setting(
            "timelapse_format", str, "mp4", "timelapse format", "prefs", choices=TIMELAPSE_FORMATS
        ),
        Setting(
            "timelapse_layout", str, "side", "timelapse layout", "prefs", choices=TIMELAPSE_LAYOUTS
        ),
        Setting("timelapse_speed", int, 4, "timelapse speed", "prefs", low=1, high=64),
        Setting("geometry", bytes, b"", "window geometry", "prefs"),
        # The picture in a window of its own (a second screen), and where that window was.
        Setting("picture_detached", bool, False, "picture in its own window", "prefs"),
        Setting("picture_geometry", bytes, b"", "picture window geometry", "prefs"),
    )
}

FRAME_SETTINGS = (
    "prompt", "mode", "control_scale", "strength", "seed", "steps", "size", "loras"
)


def stored_in(store: Store) -> tuple[str, ...]:
    return tuple(name for name, s in SETTINGS.items() if s.store == store)


def check_frame_settings(values: Mapping[str, Any]) -> None:
    """The rules of every frame setting present in ``values`` (a request's)."""
    for name in FRAME_SETTINGS:
        if name in values:
            SETTINGS[name].check(values[name])


def load_stored(
    raw: Mapping[str, Any], names: Iterable[str], source: str
) -> tuple[dict[str, Any], list[str]]:
    """The valid values among ``raw`` for ``names``, and one line for each one dropped.

    A missing key is simply absent (the default applies, nothing to say); a bad value is
    dropped on its own, so one broken setting never costs the others. Keys not in ``names``
    are ignored: a newer version may have written them.
    """
    values: dict[str, Any] = {}
    dropped: list[str] = []
    for name in names:
        if name not in raw or raw[name] is None:
            continue
        setting = SETTINGS[name]
        try:
            values[name] = setting.parse_stored(raw[name])
        except InvalidRequestError as err:
            dropped.append(f"{source}: {err}; using {_shown(setting.default)}")
            continue
        if setting.fitted(raw[name]) is not raw[name]:
            dropped.append(f"{source}: {setting.noun} was cut to {setting.max_chars} characters")
    return values, dropped


def _as_pair(item: Any) -> Any:
    if isinstance(item, list) and len(item) == 2 and _is_pair(*item):
        return (item[0], float(item[1]))
    return item


def _is_pair(path: Any, weight: Any) -> bool:
    return isinstance(path, str) and isinstance(weight, (int, float)) and not isinstance(
        weight, bool
    )


def _check_loras(value: Any, noun: str) -> tuple:
    """A tuple of at most MAX_LORAS (file, weight) pairs, each weight in -2..2."""
    if not isinstance(value, tuple):
        raise InvalidRequestError(f"{noun} must be a list of (file, weight) pairs")
    if len(value) > MAX_LORAS:
        raise InvalidRequestError(f"{noun}: at most {MAX_LORAS}, got {len(value)}")
    low, high = LORA_WEIGHT_RANGE
    for item in value:
        if not (isinstance(item, tuple) and len(item) == 2 and _is_pair(*item)):
            raise InvalidRequestError(f"{noun} must be (file, weight) pairs, got {item!r}")
        path, weight = item
        if not path or len(path) > 4096 or "\0" in path:
            raise InvalidRequestError(f"{noun}: a file name must be 1 to 4096 characters")
        if not (math.isfinite(weight) and low <= weight <= high):
            raise InvalidRequestError(
                f"a LoRA weight must be between {low:g} and {high:g}, got {_number(weight)}"
            )
    return value


def _number(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


def _shown(value: Any) -> str:
    if isinstance(value, bytes):
        return "the default"
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value) if isinstance(value, str) else _number(value)
