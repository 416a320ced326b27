"""The filmstrip: thumbnails of the last results; click to view, menu to pin/export/restore."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QListView, QListWidget, QListWidgetItem, QMenu, QWidget

from desktop_app.app.history import History
from desktop_app.app.imaging import rgb_to_qimage

THUMB = 72
ENTRY_ROLE = Qt.ItemDataRole.UserRole


class Filmstrip(QListWidget):
    view_requested = Signal(int)  # entry id
    export_requested = Signal(int)
    restore_requested = Signal(int)

    def __init__(self, history: History, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history = history
        self._icons: dict[int, QIcon] = {}
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListView.Movement.Static)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setFixedHeight(THUMB + 34)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setToolTip(
            "Recent pictures: click to view, double-click to restore its settings, "
            "right-click to pin or export"
        )
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu)
        self.itemClicked.connect(lambda item: self.view_requested.emit(item.data(ENTRY_ROLE)))
        self.itemDoubleClicked.connect(
            lambda item: self.restore_requested.emit(item.data(ENTRY_ROLE))
        )
        history.changed.connect(self.refresh)
        self.refresh()  # a filmstrip kept from the last run is there before the window

    def refresh(self) -> None:
        self.clear()
        live_ids = set()
        for entry in self.history.entries:
            live_ids.add(entry.entry_id)
            icon = self._icons.get(entry.entry_id)
            if icon is None:
                image = rgb_to_qimage(entry.result.image)
                icon = QIcon(
                    QPixmap.fromImage(
                        image.scaled(
                            THUMB,
                            THUMB,
                            Qt.AspectRatioMode.KeepAspectRatio,
                            Qt.TransformationMode.SmoothTransformation,
                        )
                    )
                )
                self._icons[entry.entry_id] = icon
            params = entry.result.params
            text = f"{'📌 ' if entry.pinned else ''}{params.seed}"
            if params.hires_upscale is not None:  # a finished picture
                text += f" ×{params.hires_upscale:g}"
            item = QListWidgetItem(icon, text)
            item.setData(ENTRY_ROLE, entry.entry_id)
            item.setToolTip(entry.result.params.prompt or "(no prompt)")
            self.addItem(item)
        self._icons = {k: v for k, v in self._icons.items() if k in live_ids}

    def _menu(self, pos: QPoint) -> None:
        item = self.itemAt(pos)
        if item is None:
            return
        entry = self.history.find(item.data(ENTRY_ROLE))
        if entry is None:
            return
        menu = QMenu(self)
        menu.addAction("View", lambda: self.view_requested.emit(entry.entry_id))
        menu.addAction(
            "Restore prompt and settings", lambda: self.restore_requested.emit(entry.entry_id)
        )
        menu.addAction(
            "Unpin" if entry.pinned else "Pin",
            lambda: self.history.set_pinned(entry.entry_id, not entry.pinned),
        )
        menu.addAction("Export…", lambda: self.export_requested.emit(entry.entry_id))
        menu.popup(self.viewport().mapToGlobal(pos))
