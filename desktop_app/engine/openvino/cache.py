"""Converted models on disk, so that only the first start with a model converts it.

An entry is a folder named by a hash of what the models depend on (the model and its
weights, the fused LoRAs, the frame size, the precision, OpenVINO's version: ``key``), one
IR pair (``PART.xml`` / ``PART.bin``) per converted part, and ``PART.json`` written last with
the pair's byte sizes. A part whose files are missing, of other sizes or unreadable is
converted again and rewritten (a damaged entry is rebuilt, never fatal). A cache folder that
cannot be written leaves the models in memory for this run, with a warning the window shows.

The folder: ``LIVE_CANVAS_OPENVINO_CACHE``, else ``$XDG_CACHE_HOME/live-canvas/openvino``
(``~/.cache/...``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path

import torch

from desktop_app.engine.openvino.target import import_openvino

_log = logging.getLogger("live_canvas")
FORMAT = 1  # bump when what is stored, or how it is converted, changes


def default_folder() -> Path:
    given = os.environ.get("LIVE_CANVAS_OPENVINO_CACHE")
    if given:
        return Path(given).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(base).expanduser() / "live-canvas" / "openvino"


def weights_fingerprint(modules) -> str:
    """A cheap hash of the weights (a few values of every tensor, and every shape): a model
    rebuilt or re-fused with other values gets another entry, without reading gigabytes."""
    digest = hashlib.sha256()
    for module in modules:
        if module is None:
            continue
        for name, tensor in module.state_dict().items():
            flat = tensor.detach().reshape(-1)
            picks = flat[:: max(1, flat.numel() // 7)][:8].float().cpu().numpy()
            digest.update(f"{name}{tuple(tensor.shape)}{tensor.dtype}".encode())
            digest.update(picks.tobytes())
    return digest.hexdigest()[:16]


def key(**fields) -> str:
    """The entry's name: a hash of ``fields`` (those given as None left out, so that a field
    added for one precision leaves the other precisions' entries where they were)."""
    ov = import_openvino()
    fields = {name: value for name, value in fields.items() if value is not None}
    fields = dict(fields, openvino=ov.__version__, format=FORMAT, torch=torch.__version__)
    text = json.dumps(fields, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class ConversionCache:
    def __init__(self, folder: Path | None = None):
        self.folder = folder or default_folder()
        self.warnings: tuple[str, ...] = ()
        self.converted: list[str] = []  # "KEY/PART" converted this run (tests read it)
        self.rebuilt: list[str] = []  # damaged entries found and converted again
        self._memory: dict[tuple[str, str], object] = {}
        self.writable = self._check_writable()

    def _check_writable(self) -> bool:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            probe = self.folder / ".write-test"
            probe.write_bytes(b"")
            probe.unlink()
            return True
        except OSError as err:
            self.warnings = (
                f"the OpenVINO cache folder {self.folder} cannot be written "
                f"({err.strerror or err}): the model is converted in memory, again at every start",
            )
            _log.warning(self.warnings[0])
            return False

    def entry(self, entry_key: str) -> Path:
        return self.folder / entry_key

    def load(self, entry_key: str, part: str):
        """The stored model, or None (not stored, or damaged: then removed, to be rebuilt)."""
        if (entry_key, part) in self._memory:
            return self._memory[entry_key, part]
        folder = self.entry(entry_key)
        manifest = folder / f"{part}.json"
        if not self.writable or not manifest.exists():
            return None
        xml, bin_ = folder / f"{part}.xml", folder / f"{part}.bin"
        try:
            sizes = json.loads(manifest.read_text())
            if sizes != {"xml": xml.stat().st_size, "bin": bin_.stat().st_size}:
                raise ValueError("the files are not the sizes written")
            return import_openvino().Core().read_model(str(xml), str(bin_))
        except Exception as err:  # noqa: BLE001 - any damage: convert again
            _log.warning("damaged OpenVINO cache entry %s/%s (%s): rebuilding", folder, part, err)
            self.rebuilt.append(f"{entry_key}/{part}")
            for path in (manifest, xml, bin_):
                path.unlink(missing_ok=True)
            return None

    def store(self, entry_key: str, part: str, model) -> None:
        """Written to disk (the pair, then its manifest), else kept in memory for this run."""
        self.converted.append(f"{entry_key}/{part}")
        if not self.writable:
            self._memory[entry_key, part] = model
            return
        folder = self.entry(entry_key)
        xml, bin_ = folder / f"{part}.xml", folder / f"{part}.bin"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            import_openvino().save_model(model, str(xml), compress_to_fp16=False)
            sizes = {"xml": xml.stat().st_size, "bin": bin_.stat().st_size}
            (folder / f"{part}.json").write_text(json.dumps(sizes))
        except OSError as err:  # a full disk: this run keeps it in memory
            _log.warning("could not write the OpenVINO cache entry %s: %s", folder, err)
            self._memory[entry_key, part] = model

    def size_bytes(self, entry_key: str) -> int:
        folder = self.entry(entry_key)
        if not folder.is_dir():
            return 0
        return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())

    def remove(self, entry_key: str) -> None:
        shutil.rmtree(self.entry(entry_key), ignore_errors=True)
