"""Desktop integration on Linux, without building a bundle: the launcher, the AppStream
metainfo and the icons in packaging/linux and resources/, the one resource lookup (checkout
and frozen), and install.sh / uninstall.sh on a stand-in bundle in a throwaway home."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

import desktop_app
from desktop_app.core import resources
from desktop_app.core.resources import APP_ID

ROOT = Path(__file__).resolve().parent.parent
LINUX = ROOT / "packaging" / "linux"
DESKTOP = LINUX / f"{APP_ID}.desktop"
METAINFO = LINUX / f"{APP_ID}.metainfo.xml"


def test_resources_come_from_the_checkout_here():
    assert resources.resource("theme.qss") == ROOT / "resources" / "theme.qss"
    assert resources.resource("icons/app.svg").is_file()


def test_resources_come_from_the_bundle_when_frozen(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert resources.is_frozen()
    assert resources.resource("icons/app.svg") == tmp_path / "resources" / "icons" / "app.svg"


def test_no_module_builds_paths_from_its_own_file():
    # One lookup (core/resources.py): a path from __file__ elsewhere breaks in the bundle.
    users = [
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "desktop_app").rglob("*.py")
        if "__file__" in path.read_text(encoding="utf-8")
    ]
    assert users == ["desktop_app/core/resources.py"]


def test_the_launcher_names_the_app_its_icon_and_files_it_opens():
    if shutil.which("desktop-file-validate"):
        done = subprocess.run(["desktop-file-validate", str(DESKTOP)],
                              capture_output=True, text=True)
        assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr
    entry = configparser.ConfigParser(interpolation=None, strict=True)
    entry.optionxform = str  # keys are case-sensitive
    entry.read(DESKTOP, encoding="utf-8")
    group = entry["Desktop Entry"]
    assert group["Type"] == "Application" and group["Name"] == "Live Canvas"
    assert group["Icon"] == APP_ID  # the hicolor icons' name, and the window's desktop name
    assert group["Exec"] == "live-canvas %f"  # install.sh writes the full path
    assert "image/png" in group["MimeType"].split(";")
    assert "Graphics" in group["Categories"].split(";")


def test_the_metainfo_is_valid_appstream_for_this_app():
    if shutil.which("appstreamcli"):
        done = subprocess.run(["appstreamcli", "validate", "--no-net", str(METAINFO)],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
    # The structure appstreamcli checks first, for machines without it.
    root = ET.parse(METAINFO).getroot()
    assert root.tag == "component" and root.get("type") == "desktop-application"
    assert root.findtext("id") == APP_ID
    for required in ("name", "summary", "metadata_license", "project_license"):
        assert (root.findtext(required) or "").strip(), required
    assert root.find("description/p") is not None
    assert root.findtext("launchable[@type='desktop-id']") == DESKTOP.name
    assert root.find("content_rating") is not None
    releases = [r.get("version") for r in root.iter("release")]
    assert releases and releases[0] == desktop_app.__version__


def test_the_icon_comes_in_the_sizes_its_folder_names():
    pngs = sorted((ROOT / "resources" / "icons" / "hicolor").glob(f"*/apps/{APP_ID}.png"))
    sizes = {png.parent.parent.name: Image.open(png).size for png in pngs}
    assert {"16x16", "32x32", "48x48", "64x64", "128x128", "256x256", "512x512"} <= set(sizes)
    for name, (width, height) in sizes.items():
        assert name == f"{width}x{height}"


def lay_out_bundle(folder: Path) -> Path:
    """A stand-in for dist/live-canvas: an executable that answers --version, and the
    desktop files laid out by the script build.sh uses."""
    folder.mkdir()
    exe = folder / "live-canvas"
    exe.write_text(f'#!/bin/sh\necho "live-canvas {desktop_app.__version__}"\n')
    exe.chmod(0o755)
    subprocess.run([str(ROOT / "packaging" / "desktop-files.sh"), str(folder)], check=True)
    return folder


def files_under(home: Path) -> set[str]:
    return {p.relative_to(home).as_posix() for p in home.rglob("*") if not p.is_dir()}


def home_env(home: Path) -> dict[str, str]:
    env = dict(os.environ, HOME=str(home))
    env.pop("XDG_DATA_HOME", None)
    return env


def test_install_puts_the_bundle_the_command_the_launcher_and_icon_in_place(tmp_path):
    bundle = lay_out_bundle(tmp_path / "live-canvas")
    home = tmp_path / "home"
    (home / "Pictures").mkdir(parents=True)
    (home / "Pictures" / "mine.png").write_bytes(b"not ours")
    before = files_under(home)
    subprocess.run([str(bundle / "install.sh")], env=home_env(home), check=True,
                   capture_output=True)

    opt = home / ".local" / "opt" / "live-canvas"
    link = home / ".local" / "bin" / "live-canvas"
    assert os.readlink(link) == str(opt / "live-canvas")
    version = subprocess.run([str(link), "--version"], capture_output=True, text=True)
    assert version.stdout.strip() == f"live-canvas {desktop_app.__version__}"
    share = home / ".local" / "share"
    launcher = share / "applications" / DESKTOP.name
    assert f'Exec="{opt}/live-canvas" %f' in launcher.read_text().splitlines()
    if shutil.which("desktop-file-validate"):
        subprocess.run(["desktop-file-validate", str(launcher)], check=True)
    assert (share / "icons/hicolor/256x256/apps" / f"{APP_ID}.png").is_file()
    assert (share / "icons/hicolor/scalable/apps" / f"{APP_ID}.svg").is_file()
    assert (share / "metainfo" / METAINFO.name).is_file()

    # Installing again (an upgrade) replaces it; uninstalling removes exactly what came.
    subprocess.run([str(bundle / "install.sh")], env=home_env(home), check=True,
                   capture_output=True)
    done = subprocess.run([str(opt / "uninstall.sh")], env=home_env(home),
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert files_under(home) == before


def test_install_leaves_a_command_that_is_not_its_own_alone(tmp_path):
    bundle = lay_out_bundle(tmp_path / "live-canvas")
    home = tmp_path / "home"
    theirs = home / ".local" / "bin" / "live-canvas"
    theirs.parent.mkdir(parents=True)
    theirs.write_text("#!/bin/sh\n# pip install --user's script\n")
    done = subprocess.run([str(bundle / "install.sh")], env=home_env(home),
                          capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "is not this install's" in done.stderr
    assert theirs.read_text().endswith("script\n")
    assert not (home / ".local" / "opt").exists()


def test_uninstall_without_an_install_says_so(tmp_path):
    done = subprocess.run([str(ROOT / "packaging" / "uninstall.sh")], env=home_env(tmp_path),
                          capture_output=True, text=True)
    assert done.returncode == 1 and "not installed" in done.stderr


@pytest.mark.parametrize("script", ["install.sh", "uninstall.sh", "build.sh", "desktop-files.sh",
                                    "lock.sh"])
def test_the_scripts_parse(script):
    subprocess.run(["bash", "-n", str(ROOT / "packaging" / script)], check=True)
