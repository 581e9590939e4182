"""``hpu.toml``: the same option names as the flags, read before the command line.

Top-level keys apply to every subcommand that has that option; a table such as
``[compare]`` applies to one subcommand and may only name its options::

    head-dim = 64
    lanes = 8

    [compare]
    seq = 256
    causal = true

Values go through the same parsers as the flags (same ranges, same messages),
and flags on the command line win over the file.
"""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path

from hpu_model.errors import HPUError

__all__ = ["ConfigFileError", "DEFAULT_PATH", "config_argv"]

DEFAULT_PATH = Path("hpu.toml")


class ConfigFileError(HPUError):
    """A config file that cannot be read or names an unknown option."""


def _options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {s[2:]: a for a in parser._actions for s in a.option_strings if s.startswith("--")}


def _tokens(key: str, value, action: argparse.Action, where: str) -> list[str]:
    if isinstance(action, argparse._StoreTrueAction):
        if not isinstance(value, bool):
            raise ConfigFileError(f"{where}: '{key}' must be true or false, got {value!r}")
        return [f"--{key}"] if value else []
    if isinstance(value, (dict, bool)) or value is None:
        raise ConfigFileError(f"{where}: '{key}' must be a number, string or list, got {value!r}")
    values = value if isinstance(value, list) else [value]
    if action.nargs is None and len(values) != 1:
        raise ConfigFileError(f"{where}: '{key}' takes one value, got {value!r}")
    return [f"--{key}", *(str(v) for v in values)]


def _check_names(path: Path, data: dict, parsers: dict[str, argparse.ArgumentParser]) -> None:
    """A section must be a subcommand and a top-level key some subcommand's option: a typo would else be
    ignored in silence, and the run would use the default instead of the value the user wrote."""
    for key, value in data.items():
        if isinstance(value, dict):
            if key not in parsers:
                raise ConfigFileError(f"{path}: unknown section [{key}]; sections are subcommands: "
                                      f"{', '.join(parsers)}")
        elif not any(key.replace("_", "-") in _options(sub) for sub in parsers.values()):
            raise ConfigFileError(f"{path}: unknown option '{key}' (no subcommand has --{key.replace('_', '-')})")


def config_argv(path: Path, command: str, parser: argparse.ArgumentParser,
                parsers: dict[str, argparse.ArgumentParser] | None = None) -> list[str]:
    """Flags equivalent to the config file's settings for ``command``.

    ``parsers`` (every subcommand's parser, by name) turns unknown sections and top-level keys into errors.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigFileError(f"cannot read config file {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigFileError(f"config file {path} is not valid TOML: {exc}") from None
    if parsers:
        _check_names(path, data, parsers)
    options = _options(parser)
    argv: list[str] = []
    for key, value in data.items():
        if isinstance(value, dict):
            continue
        key = key.replace("_", "-")
        if key in options and key not in ("help", "json", "out"):
            argv += _tokens(key, value, options[key], str(path))
    section = data.get(command, {})
    if not isinstance(section, dict):
        raise ConfigFileError(f"{path}: [{command}] must be a table of options")
    for key, value in section.items():
        key = key.replace("_", "-")
        if key not in options or key == "help":
            allowed = ", ".join(sorted(k for k in options if k != "help"))
            raise ConfigFileError(f"{path}: unknown option '{key}' in [{command}]; allowed: {allowed}")
        argv += _tokens(key, value, options[key], f"{path} [{command}]")
    return argv
