"""The Live Canvas main window: canvas and picture side by side, controls, filmstrip."""

from __future__ import annotations

import sys

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QBoxLayout,
    QColorDialog,
    QMainWindow,
    QVBoxLayout,
    QWidget,
)

from desktop_app.app.controller import Controller
from desktop_app.app.prompt_styles import PromptStyleStore
from desktop_app.app.settings import PreferencesKeeper
from desktop_app.app.user_presets import UserPreset, UserPresetStore
from desktop_app.core.types import FrameResult
from desktop_app.ui.banner import Banner
from desktop_app.ui.banner_stack import BannerStack
from desktop_app.ui.bindings import bind_brush, bind_checked
from desktop_app.ui.canvas import SketchCanvas
from desktop_app.ui.closing_dialog import ClosingDialog
from desktop_app.ui.controls import ControlPanel
from desktop_app.ui.download_dialog import ModelDownloadDialog
from desktop_app.ui.download_offer import DownloadOffer
from desktop_app.ui.export_menu import ExportMenu
from desktop_app.ui.filmstrip import Filmstrip
from desktop_app.ui.finish_actions import FinishActions
from desktop_app.ui.help_menu import HelpMenu
from desktop_app.ui.image_import import ImageImport
from desktop_app.ui.image_view import ImageView
from desktop_app.ui.model_status import ModelStatus
from desktop_app.ui.picture_window import PicturePlacement
from desktop_app.ui.reference_bar import ReferenceBar
from desktop_app.ui.selection_tools import SelectionTools
from desktop_app.ui.server_banner import ServerBanner
from desktop_app.ui.server_dialog import ServerDialog
from desktop_app.ui.theme import icon
from desktop_app.ui.timelapse_indicator import TimelapseIndicator
from desktop_app.ui.timelapse_menu import TimelapseMenu
from desktop_app.ui.tool_bar import ToolBar
from desktop_app.ui.user_preset_dialog import UserPresetDialog


class MainWindow(QMainWindow):
    closed = Signal(bool)  # the close has ended: True when everything stopped in time
    uncaught = Signal(str)  # a failure nobody caught, from any thread (core.log.route_uncaught)

    def __init__(
        self,
        controller: Controller,
        quit_after_first_frame: bool = False,
        qsettings: QSettings | None = None,
        user_presets: UserPresetStore | None = None,
    ) -> None:
        super().__init__()
        self.qsettings = qsettings
        # Every QObject here has a Qt parent: one owned by Python alone could be destroyed by
        # the garbage collector on whichever thread it runs, the render worker's included,
        # and Qt objects must die on the thread they live in (a closing dialog's busy bar,
        # destroyed on the worker, left its animation behind in the UI thread's timer).
        self.prefs = PreferencesKeeper(controller.state, qsettings, self) if qsettings else None
        self.downloads = DownloadOffer(controller, self.prefs, self)
        self.user_presets = user_presets or UserPresetStore(qsettings)
        # Prompt styles are kept with the user presets; frames read them through the pacer.
        controller.frames.styles = PromptStyleStore(qsettings)
        self.user_preset_dialog: UserPresetDialog | None = None
        self.closing_dialog: ClosingDialog | None = None
        self.controller = controller
        self.state = controller.state
        self.quit_after_first_frame = quit_after_first_frame
        self.exit_code = 0
        self.setWindowTitle("Live Canvas")
        self.setWindowIcon(icon("app"))

        self.canvas = SketchCanvas(self.state.size)
        bind_brush(self.canvas, self.state)
        self.preview = ImageView("The picture appears here")
        self.controls = ControlPanel(
            self.state, user_presets=self.user_presets.all(), prompt_styles=controller.frames.styles
        )
        self.filmstrip = Filmstrip(controller.history)
        self.model_status = ModelStatus(controller, self.statusBar(), self)
        self.status = self.model_status.labels
        self.timelapse_indicator = TimelapseIndicator(controller.timelapse, self.statusBar())

        central = QWidget()
        column = QVBoxLayout(central)
        images_area = QWidget()
        self.images = QBoxLayout(QBoxLayout.Direction.LeftToRight, images_area)
        self.images.setContentsMargins(0, 0, 0, 0)
        self.images.addWidget(self.canvas, 1)
        self.images.addWidget(self.preview, 1)
        column.addWidget(images_area, 1)
        self.banners = BannerStack(images_area, self._build_banners())
        self.reference_bar = ReferenceBar(controller, self.canvas)
        self.imports = ImageImport(controller, self.canvas, self._say, self)
        column.addWidget(self.reference_bar)
        column.addWidget(self.filmstrip)
        column.addWidget(self.controls)
        self.setCentralWidget(central)
        self.picture = PicturePlacement(self.state, self.preview, self.images, self)

        self._build_actions()
        self.device_label, self.model_label = self.status.device, self.status.model
        self.latency_label, self.origin_label = self.status.latency, self.status.origin
        self._connect()
        self._show_layout(self.state.layout)
        self.state.layout_changed.connect(self._show_layout)
        canvas = self.canvas
        controller.use_canvas(
            strokes=canvas.to_numpy,
            drawing=canvas.drawing,
            reference=lambda: (canvas.reference.version, canvas.reference.rgb()),
        )
        geometry = self.state.geometry
        if not geometry or not self.restoreGeometry(QByteArray(geometry)):
            self.resize(1180, 860)

    def _build_banners(self) -> tuple[Banner, ...]:
        """The message strips over the images, in the order they stack."""
        status = self.model_status
        self.load_banner, self.noise_banner = status.load_banner, status.noise_banner
        self.cpu_banner = status.cpu_banner
        self.error_banner = Banner("error")
        self.restore_banner = Banner("warning")
        self.server_banner = ServerBanner(self.controller.server, self.statusBar())
        return (
            self.restore_banner,
            self.server_banner,
            self.load_banner,
            self.noise_banner,
            self.error_banner,
            self.cpu_banner,
        )

    # --- actions and shortcuts --------------------------------------------------------------
    def _action(
        self, text: str, slot, shortcut=None, icon_name: str | None = None, checkable: bool = False
    ) -> QAction:
        action = QAction(text, self)
        if icon_name:
            action.setIcon(icon(icon_name))
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            action.setToolTip(f"{text} ({QKeySequence(shortcut).toString()})")
        action.setCheckable(checkable)
        if slot is not None:
            action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        canvas, stack = self.canvas, self.canvas.undo_stack
        self.brush_action = self._action(
            "Brush", lambda: self.set_tool("brush"), "B", "brush", checkable=True
        )
        self.eraser_action = self._action(
            "Eraser", lambda: self.set_tool("eraser"), "E", "eraser", checkable=True
        )
        self.brush_action.setChecked(True)
        # The selection tools (M, Q), Select all, Deselect, Lock the picture (L).
        self.selecting = SelectionTools(
            self.controller, canvas, self.preview, self._action, self.set_tool
        )
        smaller = self._action("Smaller brush", lambda: self._resize_brush(-1), "[")
        bigger = self._action("Bigger brush", lambda: self._resize_brush(+1), "]")
        self.undo_action = self._action("Undo", self.selecting.undo, "Ctrl+Z", "undo")
        self.redo_action = self._action(
            "Redo", lambda: (canvas.end_stroke(), stack.redo()), "Ctrl+Shift+Z", "redo"
        )
        stack.canUndoChanged.connect(self.undo_action.setEnabled)
        stack.canRedoChanged.connect(self.redo_action.setEnabled)
        self.undo_action.setEnabled(False)
        self.redo_action.setEnabled(False)
        self.clear_action = self._action("Clear", canvas.clear, Qt.Key.Key_Delete, "clear")
        self.import_action = self._action("Reference image…", self.import_image, "Ctrl+I", "import")
        self.open_action = self._action("Open…", self.open_file, "Ctrl+O", "open")
        self.lineart_action = self._action(
            "Import photo as line art…", self.import_lineart, None, "lineart"
        )
        self.layout_action = self._action(
            "Stack images", self._toggle_layout, None, "layout", checkable=True
        )
        self.detach_action = self._action("Picture window", None, "Ctrl+Shift+D", "detach")
        bind_checked(self.detach_action, self.state, "picture_detached")  # for a second screen
        self.export_action = self._action("Export", self.export, "Ctrl+S", "export")
        self.copy_action = self._action("Copy picture", self.copy_picture, "Ctrl+C")
        self.quit_action = self._action("Quit", self.close, "Ctrl+Q")
        self.colour_action = self._action("Brush colour…", self.choose_colour, None, None)

        self.export_menu = ExportMenu(self.controller.exports, self)
        self.export_action.setMenu(self.export_menu)
        # The session timelapse: off until asked for; its menu exports what was recorded.
        self.record_action = self._action("Record timelapse", None, None, "record")
        bind_checked(self.record_action, self.state, "timelapse_recording")
        self.timelapse_menu = TimelapseMenu(self.controller, self._say, self)
        self.record_action.setMenu(self.timelapse_menu)
        self.export_menu.addAction(self.timelapse_menu.export_action)
        self.finishing = FinishActions(self, self.controller, self.preview, self._say)
        self.finishing.add_to_menu(self.export_menu)
        self.finishing.attach_button(self.controls.finish)
        cancel = self.finishing.cancel_action  # holds Esc while enabled (a finish runs)
        cancel.changed.connect(lambda: self.selecting.use_escape(not cancel.isEnabled()))
        self.help_menu = HelpMenu(self._say, self)
        self.help_action = self._action("Help", None)
        self.help_action.setMenu(self.help_menu)
        tools = ToolBar(
            self.state,
            (
                (self.brush_action, self.eraser_action, *self.selecting.actions, "brush size",
                 smaller, bigger, self.colour_action),
                (self.undo_action, self.redo_action, self.clear_action),
                (self.open_action, self.import_action, self.lineart_action),
                (self.layout_action, self.detach_action),
                (self.export_action, self.finishing.finish_action, self.record_action),
                (self.help_action,),
            ),
        )
        tools.open_menu_at_once(self.help_action)
        self.size_box = tools.size_box
        self.addToolBar(tools)
        self._update_colour_icon()

    def _connect(self) -> None:
        c, canvas = self.controller, self.canvas
        canvas.content_changed.connect(c.sketch_changed)
        canvas.file_dropped.connect(self.open_file)
        c.gate.status_changed.connect(lambda text: self.statusBar().showMessage(text, 8000))
        c.session.notice.connect(self.show_error)
        c.filmstrip.notice.connect(self.show_error)
        self.uncaught.connect(self.show_error)
        c.gate.engine_loaded.connect(self.model_status.engine_loaded)
        c.gate.engine_failed.connect(self._on_engine_failed)
        c.gate.download_needed.connect(self._on_download_needed)
        self.controls.new_preset_requested.connect(self.new_user_preset)
        self.controls.server_requested.connect(self.show_server_dialog)
        self.controls.notice.connect(lambda message: self._say(message, True))
        c.frames.result_shown.connect(self._on_result)
        c.frames.render_failed.connect(self._on_render_failed)
        c.frames.notice.connect(lambda text: self.statusBar().showMessage(text, 5000))
        c.styles_failed.connect(self.show_error)
        c.frames.stats_changed.connect(self._on_stats)
        c.exports.export_finished.connect(
            lambda p: self.statusBar().showMessage(f"Exported {p}", 10000)
        )
        c.exports.export_failed.connect(self.show_error)
        c.lineart_ready.connect(lambda lines: canvas.paste_array(lines, "Import line art"))
        c.lineart_failed.connect(self.show_error)
        c.closing_progress.connect(self._show_closing)
        c.closed.connect(self._on_closed)
        self.controls.generate_clicked.connect(c.frames.generate)
        self.controls.export_clicked.connect(self.export)
        self.filmstrip.view_requested.connect(self._view_entry)
        self.filmstrip.restore_requested.connect(c.restore_entry)
        self.filmstrip.export_requested.connect(self._export_entry)

    # --- slots -----------------------------------------------------------------------------
    def start(self) -> None:
        """Begin loading the model (the window is already usable as a sketch tool)."""
        self.controller.load_model()

    def set_tool(self, tool: str) -> None:
        self.selecting.use_tool(tool)
        if tool in ("brush", "eraser"):
            self.canvas.tool = tool
        self.brush_action.setChecked(tool == "brush")
        self.eraser_action.setChecked(tool == "eraser")

    def _resize_brush(self, direction: int) -> None:
        size = self.canvas.brush_size
        step = max(1, round(size * 0.2))
        self.canvas.brush_size = size + direction * step

    def choose_colour(self) -> None:
        colour = QColorDialog.getColor(self.canvas.brush_colour, self, "Brush colour")
        if colour.isValid():
            self.canvas.brush_colour = colour
            self.set_tool("brush")
            self._update_colour_icon()

    def _update_colour_icon(self) -> None:
        self.colour_action.setToolTip(f"Brush colour ({self.canvas.brush_colour.name()})")

    def set_layout(self, layout: str) -> None:
        self.state.layout = layout

    def _show_layout(self, layout: str) -> None:
        stacked = layout == "stacked"
        self.images.setDirection(
            QBoxLayout.Direction.TopToBottom if stacked else QBoxLayout.Direction.LeftToRight
        )
        self.layout_action.setChecked(stacked)

    def _toggle_layout(self) -> None:
        self.set_layout("side" if self.state.layout == "stacked" else "stacked")

    def _on_engine_failed(self, message: str) -> None:
        self.model_status.engine_failed(message)
        if self.quit_after_first_frame:
            self.exit_code = 1
            # A smoke test has no one reading the banner: the reason goes to stderr too.
            print(f"live-canvas: error: the model did not load: {message}", file=sys.stderr)
            QTimer.singleShot(0, self.close)

    # --- downloads and user presets --------------------------------------------------------
    def _on_download_needed(self, check) -> None:
        if self.quit_after_first_frame:  # a smoke test: no one is there to click Download
            self._on_engine_failed(f"{check.preset} is not downloaded")
            return
        self.model_status.not_downloaded(check.preset, lambda: self.show_download_dialog(check))
        self.downloads.offer(check)

    @property
    def download_dialog(self) -> ModelDownloadDialog | None:
        return self.downloads.download_dialog

    @property
    def choice_dialog(self):
        return self.downloads.choice_dialog

    def show_download_dialog(self, check) -> ModelDownloadDialog:
        return self.downloads.show_download_dialog(check)

    def new_user_preset(self) -> UserPresetDialog:
        dialog = self.user_preset_dialog = UserPresetDialog(self, self.user_presets.names())
        dialog.accepted.connect(lambda: self.add_user_preset(dialog.preset()))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def show_server_dialog(self) -> ServerDialog:
        before = self.state.preset
        dialog = ServerDialog(self.state, self)

        def connect_again() -> None:  # the same server, maybe with another token file
            if self.state.preset == before:
                self.controller.load_model()

        dialog.accepted.connect(connect_again)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def add_user_preset(self, preset: UserPreset | None) -> None:
        if preset is None:
            return
        self.user_presets.add(preset)
        self.controls.set_user_presets(self.user_presets.all())
        self.state.preset = preset.key

    def _on_result(self, result: FrameResult) -> None:
        self.preview.set_array(result.image)
        self.status.show_origin(result)
        self.status.show_size(result.image.shape[0], self.state.size)  # a finished one: larger
        if self.error_banner.property("render_error"):  # a picture again: that one is over
            self.error_banner.hide()
        if self.quit_after_first_frame:
            QTimer.singleShot(0, self.close)

    def _on_render_failed(self, message: str) -> None:
        if self.controller.server.trouble is None:  # else the server banner says it
            self.show_error(f"The picture could not be rendered: {message}")
            self.error_banner.setProperty("render_error", True)

    def _on_stats(self, latency_ms: float, fps: float) -> None:
        self.status.show_stats(latency_ms, fps)

    def show_notices(self, notices: list[str] | tuple[str, ...]) -> None:
        """What the saved state lost at startup, said once (the app started normally)."""
        self.restore_banner.show_message(
            "Some saved state could not be used and was reset:\n" + "\n".join(notices)
        )

    def _say(self, message: str, is_error: bool) -> None:
        if is_error:
            self.show_error(message)
        else:
            self.statusBar().showMessage(message, 5000)

    def show_error(self, message: str) -> None:
        """Until dismissed (a render failure: until the next picture)."""
        self.error_banner.setProperty("render_error", False)
        self.error_banner.show_message(message)
        self.statusBar().showMessage(message, 10000)

    def export(self) -> None:
        self.controller.exports.export()

    def _export_entry(self, entry_id: int) -> None:
        entry = self.controller.history.find(entry_id)
        if entry is not None:
            self.controller.exports.export(entry.result)

    def _view_entry(self, entry_id: int) -> None:
        entry = self.controller.history.find(entry_id)
        if entry is not None:
            self.controller.frames.show_result(entry.result)

    def copy_picture(self) -> None:
        if not self.preview.image().isNull():
            QApplication.clipboard().setImage(self.preview.image())
            self.statusBar().showMessage("Picture copied", 3000)

    def import_image(self, path: str | None = None) -> None:
        self.imports.reference(path)

    def open_file(self, path: str | None = None) -> None:
        self.imports.open(path)

    def import_lineart(self, path: str | None = None) -> None:
        self.imports.lineart(path)

    # --- closing ---------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        """Hide at once and let the controller close down in the background: the frame in
        flight stops within one model block, a queued export finishes (with a dialog that
        can cancel it), the autosave is written off this thread. ``closed`` says when."""
        self.state.geometry = bytes(self.saveGeometry().data())
        self.picture.hide()
        if self.prefs is not None:
            self.prefs.save()
        self.downloads.stop()
        event.accept()
        self.controller.close()

    def _show_closing(self, message: str) -> None:
        self.closing_dialog = ClosingDialog(message, self)
        self.closing_dialog.canceled.connect(self.controller.abandon_exports)
        self.closing_dialog.show()

    def _on_closed(self, in_time: bool) -> None:
        if self.closing_dialog is not None:
            self.closing_dialog.close()
            self.closing_dialog.deleteLater()
        self.closed.emit(in_time and not self.background_threads_running())

    def background_threads_running(self) -> bool:
        """A frame, export or Hub request that could not be stopped in time."""
        threads = [self.controller.worker, *self.downloads.threads()]
        return any(thread.isRunning() for thread in threads)
