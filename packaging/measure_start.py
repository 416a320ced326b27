"""Start-up time of the frozen app to a visible window, cold and warm, under Xvfb.

    python packaging/measure_start.py dist/live-canvas/live-canvas [--runs 5]

"Visible" is the moment ``xdotool search --onlyvisible --name '^Live Canvas$'`` finds the
mapped main window on the X server (polled every 10 ms). Cold: the bundle's files evicted
from the page cache first (posix_fadvise DONTNEED on each file, as after a reboot, without
dropping anyone else's cache); warm: started again straight after. Each run uses an empty
home, so no saved sketch or preferences change the work, and ``--model tiny``, which builds
its model in code (the window shows before the model loads either way). Needs Xvfb and
xdotool (apt-get install xvfb xdotool).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

DISPLAY = ":97"


def evict(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def time_to_window(exe: Path, home: Path) -> float:
    env = dict(os.environ, DISPLAY=DISPLAY, HOME=str(home), QT_QPA_PLATFORM="xcb",
               XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".local/share"),
               HF_HOME=str(home / "hf"), HF_HUB_OFFLINE="1")
    start = time.perf_counter()
    app = subprocess.Popen([str(exe), "--model", "tiny", "--quit-after", "1"], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            found = subprocess.run(
                ["xdotool", "search", "--onlyvisible", "--name", "^Live Canvas$"],
                env=env, capture_output=True,
            )
            if found.returncode == 0:
                return time.perf_counter() - start
            if app.poll() is not None:
                raise SystemExit(f"the app exited ({app.returncode}) before its window showed")
            time.sleep(0.01)
    finally:
        if app.wait(120) != 0:
            raise SystemExit(f"the app exited with {app.returncode}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("exe", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    exe = args.exe.resolve()
    xvfb = subprocess.Popen(["Xvfb", DISPLAY, "-screen", "0", "1920x1080x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1)
        cold, warm = [], []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as home:
                evict(exe.parent)
                cold.append(time_to_window(exe, Path(home)))
            with tempfile.TemporaryDirectory() as home:
                warm.append(time_to_window(exe, Path(home)))
        for name, times in (("cold", cold), ("warm", warm)):
            print(f"{name}: median {statistics.median(times):.2f} s "
                  f"(runs: {', '.join(f'{t:.2f}' for t in times)})")
    finally:
        xvfb.terminate()
        xvfb.wait()


if __name__ == "__main__":
    main()
