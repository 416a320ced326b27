"""Prompt styles: a named piece of text before and after the prompt, and optionally LoRA
styles with their weights, chosen beside the prompt box.

A few styles come with the app; the user's own are kept as one JSON list in the preferences
file, beside the user presets (a damaged entry is dropped, never stopping the app). A frame's
prompt is the style's text around the user's (``PromptStyle.prompt``), and that final prompt
is what exports record.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from PySide6.QtCore import QSettings

from desktop_app.core.errors import InvalidRequestError, LiveCanvasError
from desktop_app.core.settings_table import MAX_PROMPT_CHARS, SETTINGS
from desktop_app.models.styles import parse_lora_argument

SETTINGS_KEY = "prompt_styles"
MAX_NAME_CHARS = 60


@dataclass(frozen=True)
class PromptStyle:
    name: str
    before: str = ""
    after: str = ""
    loras: tuple[tuple[str, float], ...] = ()
    builtin: bool = False

    def prompt(self, text: str) -> str:
        """The user's ``text`` with this style's around it, joined as prompts are."""
        parts = (part.strip().strip(",").strip() for part in (self.before, text, self.after))
        return ", ".join(part for part in parts if part)

    def with_loras(self, loras: tuple) -> tuple:
        """The user's LoRA styles, then this style's own that they do not have already."""
        chosen = {path for path, _ in loras}
        return (*loras, *(item for item in self.loras if item[0] not in chosen))

    def describe(self) -> str:
        text = self.prompt("…")
        if self.loras:
            text += " + " + ", ".join(f"{path}:{weight:g}" for path, weight in self.loras)
        return text


BUILTIN_STYLES = tuple(
    PromptStyle(name, before, after, builtin=True)
    for name, before, after in (
        ("Watercolour", "watercolour painting of", "soft washes, paper texture, loose edges"),
        ("Ink drawing", "ink drawing of", "bold black linework, cross-hatching, white paper"),
        ("Oil painting", "oil painting of", "thick brushstrokes, rich colour, canvas texture"),
        ("Pixel art", "pixel art of", "16-bit, limited palette, crisp pixels"),
        ("Photograph", "photograph of", "natural light, 35mm, sharp focus, detailed"),
        ("Children's book", "children's book illustration of", "gouache, warm, whimsical"),
    )
)


def make_prompt_style(
    name: str, before: str, after: str, loras_text: str = "", taken: tuple[str, ...] = ()
) -> PromptStyle:
    """A user's style from what was typed; InvalidRequestError with a one-line reason."""
    name = name.strip()
    if not name:
        raise InvalidRequestError("give the style a name")
    if len(name) > MAX_NAME_CHARS:
        raise InvalidRequestError(f"a style's name must be at most {MAX_NAME_CHARS} characters")
    if name in {s.name for s in BUILTIN_STYLES} or name in taken:
        raise InvalidRequestError(f"a style named {name!r} exists already; choose another name")
    for words, text in (("text before", before), ("text after", after)):
        if len(text) > MAX_PROMPT_CHARS // 2:
            raise InvalidRequestError(
                f"the {words} must be at most {MAX_PROMPT_CHARS // 2} characters"
            )
    lines = [line.strip() for line in loras_text.splitlines() if line.strip()]
    loras = tuple(parse_lora_argument(line) for line in lines)
    SETTINGS["loras"].check(loras)
    return PromptStyle(name, before.strip(), after.strip(), loras)


def read_prompt_styles(settings: QSettings) -> list[PromptStyle]:
    try:
        entries = json.loads(str(settings.value(SETTINGS_KEY, "[]") or "[]"))
    except (ValueError, TypeError):
        return []
    styles: list[PromptStyle] = []
    for entry in entries if isinstance(entries, list) else []:
        try:
            loras = "\n".join(f"{path}:{weight}" for path, weight in entry.get("loras", []))
            taken = tuple(s.name for s in styles)
            styles.append(
                make_prompt_style(entry["name"], entry["before"], entry["after"], loras, taken)
            )
        except (LiveCanvasError, KeyError, TypeError, ValueError, AttributeError):
            continue  # a hand-edited or damaged entry: the others stay
    return styles


class PromptStyleStore:
    """The built-in styles and the user's, written through to ``settings`` (None: kept in
    memory only)."""

    def __init__(self, settings: QSettings | None = None) -> None:
        self.settings = settings
        self._own = read_prompt_styles(settings) if settings is not None else []

    def all(self) -> list[PromptStyle]:
        return [*BUILTIN_STYLES, *self._own]

    def own(self) -> list[PromptStyle]:
        return list(self._own)

    def get(self, name: str) -> PromptStyle | None:
        return next((s for s in self.all() if s.name == name), None)

    def save(self, style: PromptStyle, replacing: str | None = None) -> None:
        """Add ``style``, in place of the user's style ``replacing`` when given."""
        kept = [s for s in self._own if s.name not in (style.name, replacing)]
        index = next((i for i, s in enumerate(self._own) if s.name == replacing), len(kept))
        kept.insert(min(index, len(kept)), style)
        self._own = kept
        self._write()

    def remove(self, name: str) -> None:
        self._own = [s for s in self._own if s.name != name]
        self._write()

    def _write(self) -> None:
        if self.settings is None:
            return
        entries = [
            {**asdict(s), "loras": [list(x) for x in s.loras]}
            for s in self._own
        ]
        for entry in entries:
            entry.pop("builtin")
        self.settings.setValue(SETTINGS_KEY, json.dumps(entries))
        self.settings.sync()
