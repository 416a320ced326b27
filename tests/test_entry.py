"""The process entry point (``cli.entry``): the exit code of ``main``, exit handlers run, and
a thread still running keeps the normal exit that waits for it. In subprocesses, as the
``live-canvas`` script runs."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run_entry(tmp_path, argv: list[str], before: str = "") -> subprocess.CompletedProcess:
    code = textwrap.dedent(
        f"""
        import atexit, sys
        from pathlib import Path
        from desktop_app import cli
        here = Path({str(tmp_path)!r})
        atexit.register(lambda: (here / "atexit-ran").write_text("yes"))
        {before}
        sys.argv = ["live-canvas", *{argv!r}]
        cli.entry()
        """
    )
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )


def test_the_exit_code_and_output_survive_and_exit_handlers_run(tmp_path):
    done = run_entry(tmp_path, ["models", "list"])
    assert done.returncode == 0, done.stderr[-2000:]
    assert "sdxl-turbo" in done.stdout  # flushed before the process ended
    assert (tmp_path / "atexit-ran").read_text() == "yes"


def test_a_failing_command_keeps_its_exit_code(tmp_path):
    done = run_entry(tmp_path, ["render", str(tmp_path / "missing.png"), "--prompt", "x",
                                "--out", str(tmp_path / "out.png")])
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "live-canvas: error:" in done.stderr
    assert (tmp_path / "atexit-ran").exists()


def test_a_running_thread_is_waited_for(tmp_path):
    # A non-daemon thread that is still working when main has returned: a skipped teardown
    # must not cut it off.
    before = textwrap.dedent(
        """
        import threading, time
        returned = threading.Event()
        main = cli.main
        cli.main = lambda *args: (main(*args), returned.set())[0]
        def late():
            returned.wait(60)
            time.sleep(0.5)
            (here / "thread-finished").write_text("yes")
        threading.Thread(target=late).start()
        """
    ).replace("\n", "\n        ")
    done = run_entry(tmp_path, ["models", "list"], before=before)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "thread-finished").read_text() == "yes"


def test_output_to_a_reader_that_went_away_is_no_error(tmp_path):
    # ``live-canvas models list | head -0``: the pipe is closed before anything is written.
    proc = subprocess.Popen(
        [sys.executable, "-m", "desktop_app", "models", "list"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(120) == 141
    assert "error" not in err, err
