"""The window's message strips, floating over the top right corner of the images.

A banner that appeared in the window's column pushed the canvas down and rescaled it, under
the pen if the user was drawing (the CPU notice arrives when the model has loaded, a server's
trouble at any time). Floating over the images, a banner never moves or resizes anything:
the page stays where the pen is. The stack sits at the top right, over the picture in the
side-by-side layout, so the sketch is rarely covered; it takes no room (and no clicks) when
no banner shows.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QVBoxLayout, QWidget

from desktop_app.ui.banner import Banner

MARGIN = 8  # px between the stack and the images' edges
MAX_WIDTH = 560  # px: a line of text a person reads at a glance
# A banner shown or hidden (even while the stack itself is hidden), or its text changed.
_BANNER_CHANGES = (QEvent.Type.ShowToParent, QEvent.Type.HideToParent, QEvent.Type.LayoutRequest)


class BannerStack(QWidget):
    """``banners`` stacked top-down over ``host``, following its size; shown while any is."""

    def __init__(self, host: QWidget, banners: tuple[Banner, ...]) -> None:
        super().__init__(host)
        self.host = host
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        for banner in banners:
            layout.addWidget(banner)
            banner.installEventFilter(self)
        host.installEventFilter(self)
        self._place()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        kind = event.type()
        if watched is self.host:
            if kind == QEvent.Type.Resize:
                self._place()
            elif kind == QEvent.Type.ChildAdded:
                # A widget given to the images later (the picture back from its own window)
                # would be stacked over the banners: keep them on top.
                QTimer.singleShot(0, self.raise_)
        elif kind in _BANNER_CHANGES:
            if kind != QEvent.Type.LayoutRequest:
                self._place()  # shown (or gone) at once, as a banner in a layout was
            QTimer.singleShot(0, self._place)  # and again once its own layout has settled
        return False

    def _place(self) -> None:
        shown = any(
            isinstance(item.widget(), Banner) and not item.widget().isHidden()
            for item in (self.layout().itemAt(i) for i in range(self.layout().count()))
        )
        if not shown:
            self.hide()
            return
        width = max(0, min(MAX_WIDTH, self.host.width() - 2 * MARGIN))
        layout = self.layout()
        layout.activate()
        if layout.hasHeightForWidth():
            height = layout.totalHeightForWidth(width)
        else:
            height = layout.totalSizeHint().height()
        self.setGeometry(self.host.width() - width - MARGIN, MARGIN, width, height)
        self.show()
        self.raise_()
