"""Putting the window together: preferences, state, worker, controller, autosave restore.

Nothing stored can stop the app from starting: every bad preference, damaged autosave file
or out-of-range value falls back to its default, and the window says once what was dropped.
The log (``core.log``) is started here, in the same data folder as the autosave.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from desktop_app.app.controller import Controller
from desktop_app.app.settings import app_data_dir, read_prefs
from desktop_app.app.state import LiveState
from desktop_app.app.user_presets import UserPresetStore, resolving_loader
from desktop_app.app.worker import Loader, RenderWorker
from desktop_app.core.log import start_log
from desktop_app.ui.main_window import MainWindow


def create_window(
    *,
    model: str | None = None,
    device: str | None = None,
    loader: Loader | None = None,
    qsettings: QSettings | None = None,
    data_dir: Path | None = None,
    quit_after_first_frame: bool = False,
    restore: bool = True,
    server_files: tuple[str | None, str | None] | None = None,
) -> MainWindow:
    """Build the main window; call ``window.show()`` then ``window.start()`` to load the model.

    ``loader`` replaces ``load_engine`` (tests pass a fake); ``qsettings`` and ``data_dir``
    redirect the preferences and the autosave. ``server_files`` (the token and certificate
    files) go with a ``server:URL`` model.
    """
    qsettings = qsettings if qsettings is not None else QSettings()
    prefs, notices = read_prefs(qsettings)
    state = LiveState()
    state.apply(prefs)
    if model:
        state.preset = model
    if server_files is not None:
        state.server_token_file = server_files[0] or ""
        state.server_ca_file = server_files[1] or ""
    data_dir = data_dir if data_dir is not None else app_data_dir()
    try:
        start_log(data_dir)
    except OSError as err:
        notices.append(f"The log cannot be written in {data_dir}: {err.strerror or err}.")
    user_presets = UserPresetStore(qsettings)
    worker = RenderWorker(resolving_loader(loader, user_presets))
    controller = Controller(state, worker, data_dir=data_dir, device=device)
    controller.gate.preset_chosen = bool(model) or qsettings.contains("preset")
    sketch = controller.restore_session() if restore else None
    notices += controller.restore_notices
    window = MainWindow(controller, quit_after_first_frame, qsettings, user_presets)
    for owned in (worker, controller, state):  # Qt owns them, and deletes them on its thread
        owned.setParent(window)
    if sketch is not None:
        window.canvas.load_array(sketch)
    if controller.restored_reference is not None:
        window.canvas.load_reference(controller.restored_reference)
    window.selecting.load(controller.restored_selection)
    if notices:
        window.show_notices(notices)
    return window
