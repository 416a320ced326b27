"""Qt widget tests: offscreen, with preferences and app data in temp folders."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from doubles import FakeEngine, fake_loader  # noqa: E402
from PySide6.QtCore import QSettings, QStandardPaths  # noqa: E402

from desktop_app.app.settings import set_application_names  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def _qt_test_mode(qapp):
    set_application_names()
    QStandardPaths.setTestModeEnabled(True)
    yield


@pytest.fixture
def qsettings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def make_window(qtbot, tmp_path, qsettings):
    """``make_window(engine=..., error=...)``: a shown window on a fake engine, model loading."""
    from desktop_app.ui.startup import create_window

    made = []

    def make(engine: FakeEngine | None = None, error: Exception | None = None, start=True,
             data_dir=None, settings=None, **kwargs):
        settings = settings or qsettings
        if settings.value("export_dir") is None:  # exports stay in the test's folder
            settings.setValue("export_dir", str(tmp_path / "exports"))
        window = create_window(
            model="fake",
            loader=fake_loader(engine, error),
            qsettings=settings,
            data_dir=data_dir or tmp_path / "data",
            **kwargs,
        )
        qtbot.addWidget(window)
        made.append(window)
        window.show()
        if start:
            window.start()
        return window

    yield make
    # A test that failed half-way may leave a long fake frame or export running: stop it
    # (dropping queued work) before its window is deleted under it.
    for window in made:
        worker = window.controller.worker
        worker.request_stop(keep_jobs=False)
        assert worker.wait(15_000), "the render worker did not stop"
        # A Hub query of a download or model-choice dialog (the fake Hub's) ends by itself;
        # Qt deletes the window, and with it those threads, which must not be running then.
        for thread in window.downloads.threads():
            assert thread.wait(15_000), "a download dialog's thread did not end"
