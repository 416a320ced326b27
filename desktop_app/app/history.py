"""The filmstrip's data: the last results, newest first, with pins that survive eviction."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, Signal

from desktop_app.core.types import FrameResult

_ids = itertools.count(1)


@dataclass(eq=False)
class HistoryEntry:
    result: FrameResult
    pinned: bool = False
    entry_id: int = field(default_factory=lambda: next(_ids))


class History(QObject):
    changed = Signal()

    def __init__(self, limit: int = 20, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.limit = limit
        self.entries: list[HistoryEntry] = []  # newest first

    def add(self, result: FrameResult) -> HistoryEntry:
        if self.entries and self.entries[0].result is result:
            return self.entries[0]
        entry = HistoryEntry(result)
        self.entries.insert(0, entry)
        while len(self.entries) > self.limit:
            # The newest frame always gets in: with every older entry pinned, the strip grows
            # (pins are the user's choice) rather than dropping the frame it just made.
            unpinned = [e for e in self.entries[1:] if not e.pinned]
            if not unpinned:
                break
            self.entries.remove(unpinned[-1])
        self.changed.emit()
        return entry

    def restore(self, entries: list[HistoryEntry]) -> None:
        """The entries kept from an earlier run (newest first), in place of any."""
        self.entries = list(entries)
        self.changed.emit()

    def find(self, entry_id: int) -> HistoryEntry | None:
        return next((e for e in self.entries if e.entry_id == entry_id), None)

    def set_pinned(self, entry_id: int, pinned: bool) -> None:
        entry = self.find(entry_id)
        if entry is not None and entry.pinned != pinned:
            entry.pinned = pinned
            self.changed.emit()
