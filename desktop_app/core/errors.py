"""Errors whose messages are written for the person using the app.

Everything the engine raises on purpose derives from ``LiveCanvasError``; its message is one
line that says what went wrong and, where there is one, what to do about it. The CLI and the
window show that line and nothing else.
"""


class LiveCanvasError(Exception):
    """A failure the user can act on; ``str(err)`` is the whole message."""


class InvalidRequestError(LiveCanvasError, ValueError):
    """A setting or an input is out of range or malformed."""


class SketchError(LiveCanvasError):
    """A sketch or image file is missing or cannot be read."""


class ModelLoadError(LiveCanvasError):
    """A model could not be found, downloaded or loaded."""


class DeviceOutOfMemoryError(LiveCanvasError):
    """The device ran out of memory during a frame."""


class OutputError(LiveCanvasError):
    """A result could not be written."""


class RenderCancelled(LiveCanvasError):
    """The caller asked the frame to stop (the window is closing)."""


class ServerUnavailableError(LiveCanvasError):
    """The render server cannot be reached or lost a frame (it may be restarting): worth
    trying again in a moment."""


class ServerRefusedError(LiveCanvasError):
    """The render server refused us (a wrong or missing token): trying again will not help
    until the user changes something."""


def user_message(err: BaseException) -> str:
    """The one line a person reads for a caught failure: ours whole, anything else its type
    and first line."""
    if isinstance(err, LiveCanvasError):
        return str(err)
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0]}" if text else type(err).__name__
