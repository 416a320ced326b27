"""The generated picture in a window of its own, for a second screen: it keeps updating live
(it holds the very view the main window shows), goes full screen with F11 or a double click
(Escape comes back), and is put where it was last time."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QObject, Qt, Signal
from PySide6.QtGui import QCloseEvent, QKeyEvent, QMouseEvent
from PySide6.QtWidgets import QBoxLayout, QVBoxLayout, QWidget

from desktop_app.app.state import LiveState
from desktop_app.ui.image_view import ImageView

DEFAULT_SIZE = (720, 720)


class PictureWindow(QWidget):
    closed_by_user = Signal()

    def __init__(self, parent: QWidget) -> None:
        # A window of its own, owned by the main window (so Qt, not Python, deletes it).
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle("Live Canvas: picture")
        self.setObjectName("picture_window")
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._closing_quietly = False

    def hold(self, view: ImageView) -> None:
        self._layout.addWidget(view)
        view.show()

    def toggle_full_screen(self) -> None:
        self.setWindowState(self.windowState() ^ Qt.WindowState.WindowFullScreen)

    def hide_quietly(self) -> None:
        """Hide without it counting as the user closing it (the app is closing)."""
        self._closing_quietly = True
        self.hide()
        self._closing_quietly = False

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if event.key() == Qt.Key.Key_F11:
            self.toggle_full_screen()
        elif event.key() == Qt.Key.Key_Escape and self.isFullScreen():
            self.showNormal()
        else:
            super().keyPressEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        self.toggle_full_screen()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        event.accept()
        if not self._closing_quietly:
            self.closed_by_user.emit()


class PicturePlacement(QObject):
    """Moves the picture's view between the main window's row of images and its own window,
    as ``state.picture_detached`` says, and keeps that window's geometry in the state."""

    def __init__(
        self, state: LiveState, view: ImageView, images: QBoxLayout, parent: QWidget
    ) -> None:
        super().__init__(parent)
        self.state, self.view, self.images = state, view, images
        self.window = PictureWindow(parent)
        self.window.closed_by_user.connect(lambda: setattr(state, "picture_detached", False))
        state.picture_detached_changed.connect(self._place)
        self._place(state.picture_detached)

    def _place(self, detached: bool) -> None:
        if detached and not self.window.isVisible():
            self.window.hold(self.view)
            geometry = self.state.picture_geometry
            if not geometry or not self.window.restoreGeometry(QByteArray(geometry)):
                self.window.resize(*DEFAULT_SIZE)
            self.window.show()
            self.window.raise_()
        elif not detached and self.view.window() is self.window:
            self.remember()
            self.window.hide_quietly()
            self.images.addWidget(self.view, 1)
            self.view.show()

    def remember(self) -> None:
        """Keep where the picture window is (at a close too: it opens there next time)."""
        if self.view.window() is self.window:
            self.state.picture_geometry = bytes(self.window.saveGeometry().data())

    def hide(self) -> None:
        """The main window closes: the picture window goes with it, still detached."""
        self.remember()
        self.window.hide_quietly()
