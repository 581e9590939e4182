"""The CLI's argument parser class: one-line usage errors, and a record of its options.

The config file (:mod:`hpu.config`) needs to know each subcommand's options and
their kind (flag, one value, several values).  :class:`Parser` records them as
they are added, through argparse's public ``add_argument`` and
``add_subparsers``, so nothing reads argparse's private attributes.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

__all__ = ["Parser", "OptionInfo"]


@dataclass(frozen=True)
class OptionInfo:
    """What a config file may set for one long option."""

    name: str            # without the leading dashes, e.g. "head-dim"
    kind: str            # "flag" (true/false), "one" (one value) or "many" (one or more values)
    action: argparse.Action  # as add_argument returned it (help, type, choices, option strings)


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (what was wrong, where to look)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.options: dict[str, OptionInfo] = {}
        self.commands: dict[str, Parser] = {}

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")

    def add_argument(self, *names, **kwargs):
        action = super().add_argument(*names, **kwargs)
        longs = [n[2:] for n in action.option_strings if n.startswith("--") and not n.startswith("--no-")]
        if longs and action.dest != "help":
            boolean = action.nargs == 0 or isinstance(action, argparse.BooleanOptionalAction)
            many = action.nargs in ("+", "*") or isinstance(action.nargs, int) and action.nargs > 1
            kind = "flag" if boolean else "many" if many else "one"
            for name in longs:
                self.options[name] = OptionInfo(name, kind, action)
        return action

    def add_subparsers(self, **kwargs):
        kwargs.setdefault("parser_class", type(self))
        action = super().add_subparsers(**kwargs)
        add = action.add_parser

        def add_parser(name, **kw):
            sub = add(name, **kw)
            self.commands[name] = sub
            return sub

        action.add_parser = add_parser
        return action
