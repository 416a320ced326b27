"""How long closing the window takes: the real app, a real X server, Ctrl+Q sent by xdotool.

    .venv/bin/python benchmarks/close_time.py                       # random:sd21 on the CPU
    .venv/bin/python benchmarks/close_time.py --model tiny --repeat 5 --json close.json

Each run starts ``live-canvas --model MODEL --device DEVICE`` as a subprocess with its own
HOME, XDG_CONFIG_HOME and XDG_DATA_HOME in a temporary folder (the settings, the autosave and
the exports go there; HF_HUB_OFFLINE=1), on $DISPLAY, or on an Xvfb this script starts (and
stops) when DISPLAY is unset. The model is loaded and the first frame shown when the process,
having used some CPU since the window appeared, stays idle (CPU from /proc/PID/stat) for
``--idle-hold`` seconds. Then a stroke is drawn on the canvas (the left half of the window)
with xdotool, which starts frames, and one of:

* ``mid-frame``: Ctrl+Q shortly after the stroke's mouse-up, while a frame renders;
* ``export``: the same, with Ctrl+S (export the picture on screen) just before Ctrl+Q;
* ``idle``: Ctrl+Q once the frames after the stroke have ended (the process idle again);
* ``export-quit``: as ``export``, then Escape (the dialog's "Quit without waiting") as soon
  as the "Finishing the export…" dialog shows: the export's decode is cancelled; ``quit`` is
  the time from that key to the exit.

Measured from just before ``xdotool key --window WID ctrl+q`` is started to the process's
exit (polled every 5 ms): ``close``; when the main window stopped being visible (``xdotool
search --onlyvisible``, polled): ``hide``; the CPU the app used in the 0.5 s before the key
(cores: about 2 on this kind of machine means a frame is rendering); whether a second visible
"Live Canvas" window (the "Finishing the export…" dialog) was seen; the exit code; the PNGs in
the isolated export folder (QStandardPaths' PicturesLocation for that HOME,
``$HOME/Pictures/Live Canvas``); whether the autosave was written after the key; and any
"still running at exit" warning (the last-resort ``os._exit``) or traceback on stderr.

One screenshot of the screen with the stroke drawn, just before the first Ctrl+Q, is saved to
``--screenshot`` (default /tmp/close_time.png), to check the setup by eye.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

APP_TITLE = "Live Canvas"
SCENARIOS = ("mid-frame", "export", "idle", "export-quit")
EXIT_WARNING = "still running at exit"
CLK_TCK = os.sysconf("SC_CLK_TCK")
ROOT = Path(__file__).resolve().parents[1]


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- X server and xdotool -------------------------------------------------------------------
def start_xvfb() -> tuple[subprocess.Popen, str]:
    for number in range(90, 140):
        if (
            not Path(f"/tmp/.X{number}-lock").exists()
            and not Path(f"/tmp/.X11-unix/X{number}").exists()
        ):
            break
    else:
        raise RuntimeError("no free X display number between :90 and :139")
    display = f":{number}"
    xvfb = subprocess.Popen(
        ["Xvfb", display, "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    socket = Path(f"/tmp/.X11-unix/X{number}")
    deadline = time.monotonic() + 20
    while not socket.exists():
        if xvfb.poll() is not None or time.monotonic() > deadline:
            xvfb.kill()
            raise RuntimeError(f"Xvfb {display} did not start")
        time.sleep(0.05)
    return xvfb, display


def xdotool(*args: str, env: dict[str, str], check: bool = False) -> str:
    done = subprocess.run(
        ["xdotool", *args], env=env, capture_output=True, text=True, check=check, timeout=30
    )
    return done.stdout


def visible_windows(pid: int, env: dict[str, str]) -> set[str]:
    """The visible top-level windows of ``pid`` titled "Live Canvas" (window and dialogs)."""
    out = xdotool(
        "search",
        "--all",
        "--onlyvisible",
        "--pid",
        str(pid),
        "--name",
        f"^{APP_TITLE}$",
        env=env,
    )
    return set(out.split())


def window_area(wid: str, env: dict[str, str]) -> int:
    out = xdotool("getwindowgeometry", "--shell", wid, env=env)
    fields = dict(line.split("=", 1) for line in out.split() if "=" in line)
    return int(fields.get("WIDTH", 0)) * int(fields.get("HEIGHT", 0))


def window_geometry(wid: str, env: dict[str, str]) -> tuple[int, int, int, int]:
    out = xdotool("getwindowgeometry", "--shell", wid, env=env)
    f = dict(line.split("=", 1) for line in out.split() if "=" in line)
    return int(f["X"]), int(f["Y"]), int(f["WIDTH"]), int(f["HEIGHT"])


# --- the app's process ----------------------------------------------------------------------
class CpuMeter:
    """CPU seconds used by a process (all its threads), sampled into a time series."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[tuple[float, float]] = []

    def cpu_s(self) -> float | None:
        try:
            with open(f"/proc/{self.pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime

    def sample(self) -> float | None:
        value = self.cpu_s()
        if value is not None:
            self.samples.append((time.monotonic(), value))
        return value

    def cores_over(self, seconds: float) -> float | None:
        """Average cores used over the last ``seconds`` (None before that much history)."""
        if not self.samples:
            return None
        now, last = self.samples[-1]
        for when, value in reversed(self.samples):
            if now - when >= seconds:
                return (last - value) / (now - when)
        return None


def wait_idle(
    proc: subprocess.Popen,
    meter: CpuMeter,
    *,
    hold: float,
    cores: float,
    timeout: float,
    min_cpu_s: float = 0.0,
) -> float:
    """Wait until ``proc`` has used ``min_cpu_s`` CPU seconds from now and then stayed under
    ``cores`` for ``hold`` seconds; returns the wait."""
    start = time.monotonic()
    first = meter.sample() or 0.0
    while True:
        time.sleep(0.2)
        value = meter.sample()
        if proc.poll() is not None or value is None:
            raise RuntimeError(f"the app exited early (code {proc.returncode})")
        used = meter.cores_over(hold)
        if value - first >= min_cpu_s and used is not None and used <= cores:
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise RuntimeError(f"the app did not go idle within {timeout:.0f} s")


def busy_cores(meter: CpuMeter, seconds: float) -> float:
    """CPU cores used over the next ``seconds`` (sampled, blocking)."""
    a = meter.cpu_s() or 0.0
    t = time.monotonic()
    time.sleep(seconds)
    b = meter.cpu_s() or a
    return (b - a) / (time.monotonic() - t)


def draw_stroke(wid: str, env: dict[str, str]) -> None:
    """A zig-zag over the canvas, the left half of the window, as one xdotool chain
    (about 40 pointer moves 15 ms apart)."""
    x0, y0, width, height = window_geometry(wid, env)
    left, right = x0 + int(0.14 * width), x0 + int(0.38 * width)
    top, bottom = y0 + int(0.28 * height), y0 + int(0.55 * height)
    steps = 40
    chain = ["mousemove", "--sync", str(left), str(top), "mousedown", "1"]
    for i in range(1, steps + 1):
        x = left + (right - left) * i // steps
        phase = i % 16  # a triangle wave: down for 8 steps, up for 8
        y = top + (bottom - top) * (phase if phase <= 8 else 16 - phase) // 8
        chain += ["mousemove", str(x), str(y), "sleep", "0.015"]
    chain += ["mouseup", "1"]
    xdotool(*chain, env=env, check=True)


def app_env(home: Path, display: str) -> dict[str, str]:
    env = dict(os.environ)
    for key in ("XDG_CACHE_HOME", "XDG_STATE_HOME", "QT_QPA_PLATFORM", "LIVE_CANVAS_DEBUG"):
        env.pop(key, None)
    runtime = home / "runtime"
    runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
    env.update(
        DISPLAY=display,
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_RUNTIME_DIR=str(runtime),
        HF_HUB_OFFLINE="1",
    )
    return env


def files_under(folder: Path) -> dict[str, float]:
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.stat().st_mtime for p in folder.rglob("*") if p.is_file()}


def one_run(
    scenario: str,
    index: int,
    args: argparse.Namespace,
    tmp: Path,
    display: str,
    screenshot: Path | None,
) -> dict:
    home = tmp / f"{scenario}-{index}"
    home.mkdir(parents=True)
    env = app_env(home, display)
    exports = home / "Pictures" / APP_TITLE
    data = home / ".local" / "share"
    stdout = (home / "stdout.txt").open("w")
    stderr = (home / "stderr.txt").open("w")
    command = [str(args.app), "--model", args.model, "--device", args.device]
    started = time.monotonic()
    proc = subprocess.Popen(command, env=env, stdout=stdout, stderr=stderr, cwd=str(home))
    meter = CpuMeter(proc.pid)
    run: dict = {"scenario": scenario, "repeat": index, "home": str(home)}
    try:
        # The window.
        main = None
        while main is None:
            if proc.poll() is not None:
                raise RuntimeError(f"the app exited before its window showed ({proc.returncode})")
            if time.monotonic() - started > 120:
                raise RuntimeError("no window within 120 s")
            windows = visible_windows(proc.pid, env)
            if windows:
                main = max(windows, key=lambda w: window_area(w, env))
            else:
                time.sleep(0.2)
        run["window_s"] = round(time.monotonic() - started, 2)
        # The model loaded and the first frame shown: the process goes idle.
        wait_idle(
            proc, meter, hold=args.idle_hold, cores=0.15, timeout=args.load_timeout, min_cpu_s=1.0
        )
        run["loaded_s"] = round(time.monotonic() - started, 1)
        before = files_under(exports)
        draw_stroke(main, env)
        stroke_end = time.monotonic()
        if scenario == "idle":
            wait_idle(proc, meter, hold=args.idle_hold, cores=0.15, timeout=args.load_timeout)
            run["frames_after_stroke_s"] = round(time.monotonic() - stroke_end - args.idle_hold, 2)
            run["cpu_before_key"] = round(busy_cores(meter, 0.5), 2)
        else:
            run["cpu_before_key"] = round(busy_cores(meter, 0.5), 2)  # a frame is rendering
        if screenshot is not None:
            subprocess.run(
                ["import", "-window", "root", str(screenshot)], env=env, check=False, timeout=30
            )
            run["screenshot"] = str(screenshot)
        if scenario in ("export", "export-quit"):
            xdotool("key", "--window", main, "ctrl+s", env=env, check=True)
        key_wall = time.time()
        t0 = time.monotonic()
        # Not checked: the window can hide while xdotool still sends the key's release,
        # which then fails (BadWindow); the process exiting is what counts.
        xdotool("key", "--window", main, "ctrl+q", env=env)
        run["key_sent_ms"] = round((time.monotonic() - t0) * 1000, 1)
        hide_s = None
        dialog_seen = False
        next_look = 0.0
        while proc.poll() is None:
            now = time.monotonic()
            if now - t0 > args.close_timeout:
                raise RuntimeError(f"still running {args.close_timeout:.0f} s after Ctrl+Q")
            if now >= next_look:
                windows = visible_windows(proc.pid, env)
                if hide_s is None and main not in windows:
                    hide_s = time.monotonic() - t0
                dialogs = windows - {main}
                dialog_seen = dialog_seen or bool(dialogs)
                if dialogs and scenario == "export-quit" and "quit_sent_s" not in run:
                    run["quit_sent_s"] = time.monotonic() - t0
                    # A key sent to a window that has no focus is dropped (Xvfb has no
                    # window manager to give the new dialog focus): focus it, then press.
                    dialog = next(iter(dialogs))
                    xdotool("windowfocus", "--sync", dialog, env=env)
                    xdotool("key", "Escape", env=env)
                next_look = time.monotonic() + (0.01 if hide_s is None else 0.1)
            time.sleep(0.005)
        close_s = time.monotonic() - t0
        if hide_s is None:  # gone before a look saw it hidden: it was hidden by the exit
            hide_s = close_s
        after = files_under(exports)
        if "quit_sent_s" in run:
            run["quit_s"] = round(close_s - run.pop("quit_sent_s"), 3)
        run.update(
            close_s=round(close_s, 3),
            hide_ms=round(hide_s * 1000),
            hidden_in_200ms=hide_s <= 0.2,
            dialog_seen=dialog_seen,
            exit_code=proc.returncode,
            exported=sorted(name for name in after if name not in before),
            autosave_written=sorted(
                name for name, mtime in files_under(data).items() if mtime >= key_wall - 0.01
            ),
        )
    except Exception as err:  # noqa: BLE001 - recorded in the report; the run is stopped
        run["error"] = f"{type(err).__name__}: {err}"
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
        run["exit_code"] = proc.returncode
    finally:
        stdout.close()
        stderr.close()
    err_text = (home / "stderr.txt").read_text(errors="replace")
    run["exit_warning"] = EXIT_WARNING in err_text
    run["traceback"] = "Traceback" in err_text or "internal error" in err_text
    run["stderr_tail"] = err_text[-2000:]
    return run


def summarize(runs: list[dict]) -> dict:
    summary = {}
    for scenario in SCENARIOS:
        rows = [r for r in runs if r["scenario"] == scenario]
        if not rows:
            continue
        timed = [r["close_s"] for r in rows if "close_s" in r]
        summary[scenario] = {
            "runs": len(rows),
            "errors": [r["error"] for r in rows if "error" in r],
            "close_median_s": statistics.median(timed) if timed else None,
            "close_max_s": max(timed) if timed else None,
            "quit_s": [r["quit_s"] for r in rows if "quit_s" in r],
            "hide_max_ms": max((r["hide_ms"] for r in rows if "hide_ms" in r), default=None),
            "hidden_in_200ms": sum(bool(r.get("hidden_in_200ms")) for r in rows),
            "cpu_before_key": [r.get("cpu_before_key") for r in rows],
            "exit_codes": [r.get("exit_code") for r in rows],
            "exported": sum(bool(r.get("exported")) for r in rows),
            "dialog_seen": sum(bool(r.get("dialog_seen")) for r in rows),
            "autosave_written": sum(bool(r.get("autosave_written")) for r in rows),
            "exit_warnings": sum(bool(r.get("exit_warning")) for r in rows),
            "tracebacks": sum(bool(r.get("traceback")) for r in rows),
        }
    return summary


def table(report: dict) -> str:
    head = (
        "| scenario | runs | close median | close max | hidden ≤ 200 ms (max) | CPU before key "
        "| exit codes | export PNG | dialog | Escape → exit | autosave | exit warning |"
    )
    lines = [head, "|" + "---|" * 12]
    for scenario, s in report["summary"].items():

        def sec(v: float | None) -> str:
            return "—" if v is None else f"{v:.2f} s"

        n = s["runs"]
        cpu = ", ".join("—" if c is None else f"{c:.1f}" for c in s["cpu_before_key"])
        lines.append(
            f"| {scenario} | {n} | {sec(s['close_median_s'])} | {sec(s['close_max_s'])} "
            f"| {s['hidden_in_200ms']}/{n} ({s['hide_max_ms']} ms) | {cpu} "
            f"| {', '.join(str(c) for c in s['exit_codes'])} "
            f"| {s['exported']}/{n} | {s['dialog_seen']}/{n} "
            f"| {', '.join(sec(q) for q in s['quit_s']) or '—'} | {s['autosave_written']}/{n} "
            f"| {s['exit_warnings']}/{n} |"
        )
    for run in report["runs"]:
        if "error" in run:
            lines.append(f"\n{run['scenario']} #{run['repeat']}: {run['error']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="random:sd21", help="default random:sd21; or tiny")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeat", type=int, default=3, help="runs per scenario (default 3)")
    parser.add_argument(
        "--scenarios", default=",".join(SCENARIOS), help=f"comma-separated: {','.join(SCENARIOS)}"
    )
    parser.add_argument("--app", default=str(ROOT / ".venv" / "bin" / "live-canvas"))
    parser.add_argument(
        "--idle-hold",
        type=float,
        default=2.0,
        help="seconds under 0.15 cores that count as idle (default 2)",
    )
    parser.add_argument("--load-timeout", type=float, default=1200.0)
    parser.add_argument("--close-timeout", type=float, default=900.0)
    parser.add_argument("--screenshot", default="/tmp/close_time.png")
    parser.add_argument("--keep", action="store_true", help="keep the temporary HOMEs")
    parser.add_argument("--json", metavar="PATH", help="also write the report here ('-': stdout)")
    args = parser.parse_args(argv)
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    if args.repeat < 1 or not scenarios or any(s not in SCENARIOS for s in scenarios):
        parser.error(f"--repeat must be at least 1, --scenarios among {', '.join(SCENARIOS)}")
    for tool in ("xdotool", "import"):
        if shutil.which(tool) is None:
            parser.error(f"{tool} is not installed")

    xvfb = None
    display = os.environ.get("DISPLAY", "")
    if not display:
        xvfb, display = start_xvfb()
        say(f"started Xvfb on {display}")
    tmp = Path(tempfile.mkdtemp(prefix="close-time-"))
    runs = []
    try:
        for index in range(args.repeat):
            for scenario in scenarios:
                say(f"{scenario} #{index + 1}/{args.repeat} ({args.model})…")
                first = not runs
                run = one_run(
                    scenario,
                    index + 1,
                    args,
                    tmp,
                    display,
                    Path(args.screenshot) if first and args.screenshot else None,
                )
                runs.append(run)
                say("  " + json.dumps({k: v for k, v in run.items() if k != "stderr_tail"}))
    finally:
        if xvfb is not None:
            xvfb.terminate()
            try:
                xvfb.wait(10)
            except subprocess.TimeoutExpired:
                xvfb.kill()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    report = {
        "command": shlex.join(
            ["benchmarks/close_time.py", *(argv if argv is not None else sys.argv[1:])]
        ),
        "model": args.model,
        "device": args.device,
        "date": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()),
        "summary": summarize(runs),
        "runs": runs,
    }
    print(table(report))
    if args.json == "-":
        print(json.dumps(report, indent=2))
    elif args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0 if all("error" not in r for r in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
