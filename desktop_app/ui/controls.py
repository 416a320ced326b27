"""The settings panel: prompt, model preset, mode, sliders, seed, Live / Generate / Export."""

from __future__ import annotations

import random

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSlider,
    QToolButton,
    QWidget,
)

from desktop_app.app.prompt_styles import PromptStyleStore
from desktop_app.app.state import LiveState
from desktop_app.app.user_presets import USER_PREFIX, UserPreset
from desktop_app.core.settings_table import MAX_SEED
from desktop_app.models.presets import PRESETS
from desktop_app.remote.address import describe_server, is_server_model
from desktop_app.ui.bindings import bind_checked, bind_combo, bind_slider, bind_spin, bind_text
from desktop_app.ui.lora_panel import LoraPanel
from desktop_app.ui.prompt_style_box import PromptStyleBox
from desktop_app.ui.prompt_style_dialog import PromptStyleDialog
from desktop_app.ui.theme import icon

MENU_PRESETS = ("sdxl-turbo", "sdxs", "sd-turbo", "tiny")
LOCAL_FOLDER = "__local_folder__"
NEW_USER_PRESET = "__new_user_preset__"
ON_A_SERVER = "__on_a_server__"


class ControlPanel(QWidget):
    generate_clicked = Signal()
    export_clicked = Signal()
    new_preset_requested = Signal()
    server_requested = Signal()
    notice = Signal(str)  # one line for the banner (a prompt cut to its length)

    def __init__(
        self,
        state: LiveState,
        parent: QWidget | None = None,
        user_presets: list[UserPreset] | None = None,
        prompt_styles: PromptStyleStore | None = None,
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.prompt_style = PromptStyleBox(state, prompt_styles or PromptStyleStore())
        self.prompt_style.edit_requested.connect(self.edit_prompt_styles)
        self.style_dialog: PromptStyleDialog | None = None
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        self._build_prompt(grid)
        self._build_model_row(grid, user_presets or [])
        self._build_sliders(grid)
        self._build_seed_row(grid)
        self._build_buttons(grid)
        self.loras = LoraPanel(state)
        grid.addWidget(QLabel("LoRAs"), 4, 0)
        grid.addWidget(self.loras, 4, 1, 1, 5)
        grid.setColumnStretch(1, 2)
        grid.setColumnStretch(4, 1)
        self._bind()

    def _build_prompt(self, grid: QGridLayout) -> None:
        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("Describe the picture: a castle on a hill at sunset…")
        self.prompt.setFixedHeight(self.fontMetrics().lineSpacing() * 3 + 12)
        self.prompt.setTabChangesFocus(True)
        grid.addWidget(QLabel("Prompt"), 0, 0)
        grid.addWidget(self.prompt, 0, 1, 1, 5)

    def _build_model_row(self, grid: QGridLayout, user_presets: list[UserPreset]) -> None:
        self.preset = QComboBox()
        for name in MENU_PRESETS:
            self.preset.addItem(name, name)
            self.preset.setItemData(
                self.preset.count() - 1, PRESETS[name].description, Qt.ItemDataRole.ToolTipRole
            )
        self.preset.addItem("Render on a server…", ON_A_SERVER)
        self.preset.setItemData(
            self.preset.count() - 1,
            "Draw here, render on a GPU elsewhere (live-canvas serve)",
            Qt.ItemDataRole.ToolTipRole,
        )
        self.preset.addItem("Local folder…", LOCAL_FOLDER)
        self.preset.addItem("New preset…", NEW_USER_PRESET)
        self.preset.setItemData(
            self.preset.count() - 1,
            "Save your own combination of base model, ControlNet and preview decoder",
            Qt.ItemDataRole.ToolTipRole,
        )
        self.set_user_presets(user_presets, show=False)
        self.mode = QComboBox()
        self.mode.addItem("Scribble", "scribble")
        self.mode.addItem("Scribble + colour", "colour")
        self.mode.setToolTip("Scribble: lines only. Scribble + colour: your colours show through.")
        grid.addWidget(QLabel("Model"), 1, 0)
        grid.addWidget(self.preset, 1, 1)
        grid.addWidget(QLabel("Mode"), 1, 2)
        grid.addWidget(self.mode, 1, 3)
        grid.addWidget(QLabel("Style"), 1, 4)
        grid.addWidget(self.prompt_style, 1, 5)

    def _build_sliders(self, grid: QGridLayout) -> None:
        self.control_scale, control_label = self._slider("Sketch adherence")
        self.control_scale.setToolTip("How closely the picture follows your lines (0 to 2)")
        self.strength, strength_label = self._slider("Strength")
        self.strength.setToolTip("Colour mode: how much the picture may depart from your colours")
        grid.addWidget(QLabel("Sketch adherence"), 2, 0)
        grid.addWidget(self.control_scale, 2, 1)
        grid.addWidget(control_label, 2, 2)
        grid.addWidget(QLabel("Strength"), 3, 0)
        grid.addWidget(self.strength, 3, 1)
        grid.addWidget(strength_label, 3, 2)

    def _build_seed_row(self, grid: QGridLayout) -> None:
        seed_row = QHBoxLayout()
        self.seed = QDoubleSpinBox()  # a seed can pass a 32-bit int's range
        self.seed.setDecimals(0)
        self.dice = QToolButton()
        self.dice.setIcon(icon("dice"))
        self.dice.setToolTip("New random seed")
        self.seed_lock = QToolButton()
        self.seed_lock.setIcon(icon("lock"))
        self.seed_lock.setToolTip("Lock the seed (restoring a filmstrip frame keeps it)")
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.dice)
        seed_row.addWidget(self.seed_lock)
        grid.addWidget(QLabel("Seed"), 2, 3)
        grid.addLayout(seed_row, 2, 4, 1, 2)

    def _build_buttons(self, grid: QGridLayout) -> None:
        self.live = QPushButton("Live")
        self.live.setIcon(icon("live"))
        self.live.setToolTip("Repaint as you draw")
        self.generate = QPushButton("Generate")
        self.generate.setToolTip("Render the current sketch once")
        self.export = QPushButton("Export")
        self.export.setIcon(icon("export"))
        self.export.setToolTip("Save the picture as PNG at full quality (Ctrl+S)")
        self.finish = QPushButton("Finish")  # its action is the window's (ui/finish_actions)
        self.finish.setIcon(icon("finish"))
        buttons = QHBoxLayout()
        for button in (self.live, self.generate, self.export, self.finish):
            buttons.addWidget(button)
        grid.addLayout(buttons, 3, 3, 1, 3)

    def _slider(self, name: str) -> tuple[QSlider, QLabel]:
        slider = QSlider(Qt.Orientation.Horizontal)  # its range comes from bind_slider
        slider.setAccessibleName(name)
        label = QLabel()
        label.setMinimumWidth(36)
        slider.valueChanged.connect(lambda v: label.setText(f"{v / 100:.2f}"))
        return slider, label

    def _bind(self) -> None:
        state = self.state
        bind_text(self.prompt, state, "prompt", on_cut=self.notice.emit)
        bind_combo(self.mode, state, "mode")
        bind_slider(self.control_scale, state, "control_scale")
        bind_slider(self.strength, state, "strength")
        bind_spin(self.seed, state, "seed")
        bind_checked(self.seed_lock, state, "seed_locked")
        bind_checked(self.live, state, "live")
        self._show_preset(state.preset)
        self.preset.activated.connect(self._on_preset_activated)
        state.preset_changed.connect(self._show_preset)
        self.dice.clicked.connect(lambda: setattr(state, "seed", random.randint(0, MAX_SEED)))
        self.generate.clicked.connect(self.generate_clicked)
        self.export.clicked.connect(self.export_clicked)
        for signal in (state.mode_changed, state.seed_locked_changed, state.live_changed):
            signal.connect(self._update_enabled)
        self._update_enabled()

    def _update_enabled(self) -> None:
        self.strength.setEnabled(self.state.mode == "colour")
        self.seed.setEnabled(not self.state.seed_locked)
        self.dice.setEnabled(not self.state.seed_locked)
        self.generate.setEnabled(not self.state.live)

    def edit_prompt_styles(self) -> PromptStyleDialog:
        """The style editor (not modal: the prompt stays live), starting from the LoRA
        styles in use."""
        dialog = self.style_dialog = PromptStyleDialog(
            self.prompt_style.store, tuple(self.state.loras), self
        )
        dialog.finished.connect(lambda _result: self.prompt_style.refresh())
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def set_user_presets(self, presets: list[UserPreset], show: bool = True) -> None:
        """List the user's presets after the built-in ones (replacing any listed before)."""
        for index in reversed(range(self.preset.count())):
            if str(self.preset.itemData(index)).startswith(USER_PREFIX):
                self.preset.removeItem(index)
        for offset, preset in enumerate(presets):
            index = len(MENU_PRESETS) + offset
            self.preset.insertItem(index, preset.name, preset.key)
            self.preset.setItemData(index, preset.describe(), Qt.ItemDataRole.ToolTipRole)
        if show:
            self._show_preset(self.state.preset)

    def _show_preset(self, preset: str) -> None:
        index = self.preset.findData(preset)
        if index < 0:  # a hub id, a folder or a server: list it above the choices
            text = f"server: {describe_server(preset)}" if is_server_model(preset) else preset
            self.preset.insertItem(self.preset.findData(ON_A_SERVER), text, preset)
            index = self.preset.findData(preset)
        self.preset.setCurrentIndex(index)

    def _on_preset_activated(self, index: int) -> None:
        value = self.preset.itemData(index)
        if value in (NEW_USER_PRESET, ON_A_SERVER):
            self._show_preset(self.state.preset)  # the dialog that follows sets the preset
            if value == NEW_USER_PRESET:
                self.new_preset_requested.emit()
            else:
                self.server_requested.emit()
            return
        if value == LOCAL_FOLDER:
            folder = QFileDialog.getExistingDirectory(self, "Choose a diffusers model folder")
            if not folder:
                self._show_preset(self.state.preset)
                return
            value = folder
        self.state.preset = value
        self._show_preset(value)
