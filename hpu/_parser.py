"""The CLI's argument parser class: a usage error is one line."""

from __future__ import annotations

import argparse

__all__ = ["Parser"]


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (what was wrong, where to look)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")
