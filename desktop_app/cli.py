"""``live-canvas``: starts the app, or runs a sub-command (render, models, bench).

Every failure a user can cause ends here as one line on stderr and a non-zero exit code;
a Python traceback is shown only with LIVE_CANVAS_DEBUG=1.
"""

from __future__ import annotations

import argparse
import atexit
import os
import sys
import threading
from collections.abc import Sequence

from desktop_app.commands.version import VersionAction
from desktop_app.core.errors import LiveCanvasError
from desktop_app.core.log import current_log, log_error

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what the shell reports for `ls | head` and the like


class OneLineParser(argparse.ArgumentParser):
    """argparse prints a usage block before its error; we print one line that names --help."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from desktop_app.commands import bench, gui, models, render, serve

    parser = OneLineParser(
        prog="live-canvas",
        description="Sketch on a canvas; a one-step diffusion model repaints it as you draw. "
        "With no command, opens the app.",
    )
    parser.add_argument(
        "--version", action=VersionAction, help="show the version and where the log is, and exit"
    )
    gui.add_arguments(parser)
    parser.set_defaults(handler=gui.run)
    subparsers = parser.add_subparsers(
        title="commands", metavar="COMMAND", parser_class=OneLineParser
    )
    for command in (render, models, bench, serve):
        command.add_parser(subparsers)
    return parser


COMMANDS = ("render", "models", "bench", "serve")


def _takes_value(parser: argparse.ArgumentParser, token: str) -> bool:
    """Whether ``token`` is one of the window's options that reads the next argument."""
    if "=" in token:
        return False  # --model=sdxs carries its value
    action = parser._option_string_actions.get(token)  # argparse keeps no public index
    return action is not None and action.nargs != 0


def with_open_file(argv: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """``live-canvas [OPTIONS] FILE [OPTIONS]`` is ``live-canvas --open FILE ...``: the first
    argument that is neither an option, an option's value nor a command is a file to open."""
    index = 0
    while index < len(argv):
        token = argv[index]
        if token == "--":
            index += 1
            break
        if not token.startswith("-") or token == "-":
            break
        index += 2 if _takes_value(parser, token) else 1
    if index >= len(argv) or argv[index] in COMMANDS:
        return argv
    candidate = argv[index]
    looks_like_a_file = any(mark in candidate for mark in "./\\") or os.path.exists(candidate)
    if not looks_like_a_file:
        return argv  # a mistyped command stays argparse's to name
    rest = [token for token in argv[:index] if token != "--"] + argv[index + 1 :]
    return ["--open", candidate, *rest]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = with_open_file(list(sys.argv[1:] if argv is None else argv), parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, or a usage error already printed as one line
        return int(exit_.code or 0)
    try:
        return int(args.handler(args) or 0)
    except LiveCanvasError as err:
        print(f"live-canvas: error: {err}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("live-canvas: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # Whoever read our output stopped (``live-canvas models list | head -1``): nothing to
        # report. Later writes, and the flush at exit, go nowhere instead of failing again.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):  # not a real file (a test's capture): nothing to mend
            pass
        return EXIT_BROKEN_PIPE
    except Exception as err:  # noqa: BLE001 - the last line of defence for the user
        if os.environ.get("LIVE_CANVAS_DEBUG"):
            raise
        log_error(err, "live-canvas")
        details = f"the details are in {log}; " if (log := current_log()) else ""
        print(
            f"live-canvas: internal error: {type(err).__name__}: {err} "
            f"({details}set LIVE_CANVAS_DEBUG=1 for details and please report it)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def entry() -> None:
    """The process's entry point (the ``live-canvas`` script, ``python -m desktop_app``).

    Once ``main`` has returned, everything is done: threads stopped, files written atomically,
    the autosave on disk. What is left of a normal exit is the interpreter clearing its
    modules, about 3,800 with torch, diffusers and Qt loaded, which takes 2.5-3 s on a small
    CPU (measured in docs/PERFORMANCE.md, "Closing"): a relaunch or a script waiting on us
    would wait for nothing. So the exit handlers run (logging, anything a library registered)
    and the process ends without that teardown. If a Python thread of ours were still
    running, the normal exit (which waits for it) is kept; LIVE_CANVAS_FULL_EXIT=1 keeps it
    always (for tools that inspect the interpreter's teardown).
    """
    code = main()
    others = [t for t in threading.enumerate() if t is not threading.main_thread()]
    if os.environ.get("LIVE_CANVAS_FULL_EXIT") or any(not t.daemon for t in others):
        raise SystemExit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can reach it anyway
            pass
    os._exit(code)


if __name__ == "__main__":
    entry()
