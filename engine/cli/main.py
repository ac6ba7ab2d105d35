"""Entry point of ``ptycho-engine``: builds the sub-commands and turns user errors into exit 2."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Sequence

from .. import __version__
from ..atomic import is_disk_full
from ..errors import EngineError

EXIT_CANCELLED = 1
"""Exit status of a run that ended "cancelled" (or "failed") rather than "completed"."""
EXIT_INTERRUPTED = 130
"""Exit status after a second Ctrl-C (or one before the run could take it)."""

# Each module defines ``register(subparsers)``; its sub-command sets ``func(args) -> int``.
COMMAND_MODULES = (
    "engine.cli.config_cmd",
    "engine.cli.simulate_cmd",
    "engine.cli.inspect_cmd",
    "engine.cli.evaluate_cmd",
    "engine.cli.train_cmd",
    "engine.cli.reconstruct_cmd",
    "engine.cli.bench_cmd",
    "engine.cli.cluster_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ptycho-engine",
        description="Ptychographic reconstruction with physics-informed neural networks "
        "(headless engine).",
    )
    parser.add_argument("--version", action="version", version=f"ptycho-engine {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code (0 ok, 2 user error, 130 interrupted)."""
    # Busy-waiting OpenMP threads make torch ~10x slower as soon as another process shares
    # the cores (measured on 2 cores: 3.5 s instead of 0.38 s per training step). It must be
    # set before torch loads, which no command does before this point.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        # A full disk outside the engine's own writers (a library's log file): one line too.
        if not is_disk_full(exc):
            raise
        where = f" while writing {exc.filename}" if getattr(exc, "filename", None) else ""
        print(f"error: no space left on the disk{where}; free some space and try again "
              "(a run folder can be resumed with --resume)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def run() -> None:
    """Console-script wrapper.

    A command cancelled by Ctrl-C (exit 1) or interrupted (130) has written and closed
    everything it writes when :func:`main` returns; it then leaves without the interpreter's
    teardown of torch and Lightning, which takes 1-3 s on a busy machine (a Ctrl-C is answered
    within 2 s, issue 21).
    """
    code = main()
    if code in (EXIT_CANCELLED, EXIT_INTERRUPTED):
        exit_now(code)
    sys.exit(code)


def exit_now(code: int) -> None:
    """Run the exit handlers, flush the standard streams, then end the process at once
    (without freeing every module: that is the slow part)."""
    import atexit

    atexit._run_exitfuncs()  # logging.shutdown and whatever else was registered
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
