"""The ``hpu`` command line: one entry point for the whole co-design flow.

Each subcommand lives in ``hpu/commands/<name>.py`` and exposes
``register(subparsers)``; the parser built there sets ``func`` to the function
that runs it.  Option names, units and ranges are shared through
:mod:`hpu.options`; every subcommand module imports its implementation lazily,
so building the parser (``hpu golden --help``) imports no torch, triton,
cocotb or amaranth.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

from hpu._parser import Parser
from hpu.config import DEFAULT_PATH, config_argv
from hpu.options import INPUT_DESTS, OUTPUT_DESTS
from hpu_model import __version__
from hpu_model.artifacts import guarded_run, note_input, output_path
from hpu_model.errors import HPUError

__all__ = ["main", "build_parser", "COMMANDS"]

#: Subcommands in the order ``hpu --help`` lists them (the flow's order).
COMMANDS = ("golden", "export", "sim", "compare", "power", "report", "capture", "fidelity", "explore", "abtest",
            "bench", "demo")

_CONFIG_HELP = f"options file (TOML, same names as the flags; default ./{DEFAULT_PATH} if present)"


def build_parser() -> Parser:
    parser = Parser(
        prog="hpu",
        description="HPU co-design toolkit: golden model, RTL (Icarus/Verilator), Triton kernel, power reports, "
                    "design-space exploration.",
    )
    parser.add_argument("--version", action="version", version=f"hpu {__version__}")
    parser.add_argument("--config", metavar="FILE", default=None, help=_CONFIG_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"hpu.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"hpu.commands.{name}":
                raise
            continue  # command not built yet
        module.register(sub)
    for command in parser.commands.values():  # --config is accepted after the subcommand too
        command.add_argument("--config", metavar="FILE", default=None, help=_CONFIG_HELP)
    return parser


def _config_path(argv: list[str]) -> str | None:
    """The last ``--config FILE`` (or ``--config=FILE``) anywhere before ``--``."""
    found = None
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--config" and i + 1 < len(argv):
            found = argv[i + 1]
        elif arg.startswith("--config="):
            found = arg.split("=", 1)[1]
    return found


def _with_config(parser: Parser, argv: list[str]) -> list[str]:
    """Insert the config file's options right after the subcommand name (flags still win)."""
    given = _config_path(argv)
    path = Path(given) if given else DEFAULT_PATH
    at = next((i for i, a in enumerate(argv) if a in parser.commands and (i == 0 or argv[i - 1] != "--config")),
              None)
    if at is None or (not given and not path.is_file()):
        return argv
    command = argv[at]  # by position, not argv.index: a config file may be named like a subcommand
    return argv[:at + 1] + config_argv(path, command, parser.commands) + argv[at + 1:]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        argv = _with_config(parser, argv)
    except HPUError as exc:
        print(f"hpu: error: {exc}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        with guarded_run():  # inputs are never overwritten; SIGTERM cleans up like Ctrl-C
            _check_paths(args, _config_path(argv) or (str(DEFAULT_PATH) if DEFAULT_PATH.is_file() else None))
            return int(args.func(args) or 0)
    except HPUError as exc:
        print(f"hpu {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a path the user gave: missing, a folder, not writable, a file as a folder, ...
        where = f": {exc.filename}" if exc.filename is not None else ""
        print(f"hpu {args.command}: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"hpu {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: exit 1 means "mismatch" here, so never the interpreter's traceback exit
        if os.environ.get("HPU_DEBUG"):
            raise
        print(f"hpu {args.command}: internal error: {type(exc).__name__}: {exc} (a bug; HPU_DEBUG=1 shows the "
              "traceback)", file=sys.stderr)
        return 3


def _paths(value) -> list[str]:
    values = value if isinstance(value, (list, tuple)) else [value]
    return [str(v).rpartition("=")[2] if "=" in str(v) and not os.path.exists(str(v)) else str(v)
            for v in values if isinstance(v, (str, os.PathLike))]


def _check_paths(args, config: str | None) -> None:
    """Before any work: note every input the options name, then refuse an output that is one of them."""
    if config:
        note_input(config)
    for dest in INPUT_DESTS:
        for path in _paths(getattr(args, dest, None)):
            note_input(path)
    for dest in OUTPUT_DESTS:
        for path in _paths(getattr(args, dest, None)):
            output_path(path)


if __name__ == "__main__":
    sys.exit(main())
