"""``live-canvas models list|download PRESET|path``: what the presets need and where it lives."""

from __future__ import annotations

import argparse
import sys

from desktop_app.models.presets import NON_COMMERCIAL, PRESETS

_VARIANT_HELP = (
    "which weights: fp16 (GPUs), full (CPUs) or auto, what this machine's loader reads "
    "(default auto)"
)


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "models",
        help="list, download or locate the model presets",
        description="List the model presets and what is downloaded, download one, or print "
        "the cache folder (the Hugging Face cache: HF_HOME / HF_HUB_CACHE).",
    )
    actions = p.add_subparsers(
        title="actions", metavar="ACTION", dest="action", parser_class=type(p)
    )
    actions.required = True
    listing = actions.add_parser("list", help="each preset, its parts, size on disk and licence")
    listing.add_argument("--variant", choices=("auto", "fp16", "full"), default="auto")
    listing.set_defaults(handler=run_list)
    fetch = actions.add_parser(
        "download", help="download a preset's files into the cache (resumes if interrupted)"
    )
    fetch.add_argument("preset", help=f"one of {', '.join(PRESETS)}")
    fetch.add_argument(
        "--variant", choices=("auto", "fp16", "full"), default="auto", help=_VARIANT_HELP
    )
    fetch.add_argument(
        "--verify", action="store_true", help="also re-check files that are already cached"
    )
    fetch.set_defaults(handler=run_download)
    path = actions.add_parser("path", help="print the cache folder")
    path.set_defaults(handler=run_path)


def _variant(choice: str) -> str:
    from desktop_app.engine.device import default_variant

    return default_variant() if choice == "auto" else choice


def _licence_lines(preset) -> list[str]:
    lines = [f"  licence: {preset.licence}"]
    if NON_COMMERCIAL in preset.licence:
        model = preset.licence.split(":", 1)[0]
        lines.append(
            f"  NOTE: {model} is under Stability AI's non-commercial research licence: "
            "not for commercial use without a licence from Stability AI"
        )
    return lines


def run_list(args: argparse.Namespace) -> int:
    from desktop_app.models.hub_files import cache_folder, format_size, preset_status

    variant = _variant(args.variant)
    print(f"cache: {cache_folder()} ({variant} weights)")
    for preset in PRESETS.values():
        print(f"\n{preset.name}: {preset.description}")
        if preset.builtin:
            print("  built in code: nothing to download")
            print(f"  licence: {preset.licence}")
            continue
        statuses = preset_status(preset, variant)
        for s in statuses:
            if s.present:
                state = f"present, {format_size(s.size_on_disk)}"
            elif s.files:
                state = f"incomplete, {len(s.missing)} file(s) missing"
                state += f", {format_size(s.size_on_disk)} on disk"
            else:
                state = "missing"
            print(f"  {s.role:<17} {s.source or s.repo:<44} {state}")
        print(*_licence_lines(preset), sep="\n")
        if not all(s.present for s in statuses):
            print(f"  download: live-canvas models download {preset.name}")
    print(*_openvino_lines(), sep="\n")
    return 0


def _openvino_lines() -> list[str]:
    """The OpenVINO backend's precisions and what each costs (measured), and what int8
    quantizes on this CPU."""
    from importlib import metadata

    from desktop_app.core.errors import InvalidRequestError
    from desktop_app.engine.openvino.target import (
        PRECISION_NOTES,
        PRECISION_NOTES_MEASURED_ON,
        int8_scope_for,
    )

    try:
        state = f"openvino {metadata.version('openvino')} installed"
    except metadata.PackageNotFoundError:
        state = 'not installed: pip install "live-canvas[openvino]"'
    lines = [f"\nOpenVINO backend, --backend openvino --precision P ({state}):"]
    lines += [f"  {name:<13} {note}" for name, note in PRECISION_NOTES.items()]
    lines.append(f"  ({PRECISION_NOTES_MEASURED_ON})")
    try:
        scope = int8_scope_for("CPU")
    except InvalidRequestError as err:
        scope = str(err)
    if scope == "convolutions":
        lines.append(
            "  this CPU has no VNNI or AMX: int8 quantizes its convolutions only (8-bit matrix "
            "products run slower than float here)"
        )
    elif scope != "all":
        lines.append(f"  {scope}")
    return lines


def run_path(_args: argparse.Namespace) -> int:
    from desktop_app.models.hub_files import cache_folder

    print(cache_folder())
    return 0


class _Bars:
    """tqdm bars on a terminal; one line per file otherwise (logs, pipes, tests)."""

    def __init__(self, stream):
        self.stream, self.tty = stream, stream.isatty()
        self.total_bar = self.file_bar = None
        self.current: tuple[str, str] | None = None

    def __call__(self, p) -> None:
        from tqdm import tqdm

        from desktop_app.models.downloads import format_size

        key = (p.repo, p.path)
        new_file = key != self.current
        self.current = key
        if not self.tty:
            if new_file and p.file_done < p.file_total:
                print(
                    f"[{p.index + 1}/{p.count}] {p.repo}/{p.path} ({format_size(p.file_total)})",
                    file=self.stream,
                )
            return
        if self.total_bar is None:
            self.total_bar = tqdm(
                total=p.total, unit="B", unit_scale=True, desc="total", file=self.stream, position=0
            )
        if new_file:
            if self.file_bar is not None:
                self.file_bar.close()
            name = p.path if len(p.path) <= 40 else "…" + p.path[-39:]
            self.file_bar = tqdm(
                total=p.file_total,
                unit="B",
                unit_scale=True,
                leave=False,
                desc=f"[{p.index + 1}/{p.count}] {name}",
                file=self.stream,
                position=1,
            )
        self.file_bar.n, self.total_bar.n = p.file_done, p.done
        self.file_bar.refresh()
        self.total_bar.refresh()

    def close(self) -> None:
        for bar in (self.file_bar, self.total_bar):
            if bar is not None:
                bar.close()
        self.file_bar = self.total_bar = None


def run_download(args: argparse.Namespace) -> int:
    from desktop_app.models.downloads import (
        HubUnreachableError,
        as_preset,
        cache_folder,
        download_preset,
        format_size,
    )

    preset = as_preset(args.preset)
    if preset.builtin:
        print(f"{preset.name} is built in code: nothing to download")
        return 0
    variant = _variant(args.variant)
    bars = _Bars(sys.stderr)
    try:
        result = download_preset(preset, variant, progress=bars, verify=args.verify)
    except HubUnreachableError as err:
        bars.close()
        for name in err.missing:
            print(f"missing: {name}", file=sys.stderr)
        raise
    finally:
        bars.close()
    if result.fetched:
        print(
            f"downloaded {len(result.fetched)} file(s), {format_size(result.transferred)}, for "
            f"{preset.name} ({variant} weights, {format_size(result.total)} in all) into "
            f"{cache_folder()}"
        )
    else:
        print(f"{preset.name} is already downloaded ({format_size(result.total)}, {variant})")
    for line in _licence_lines(preset):
        print(line.strip())
    return 0
