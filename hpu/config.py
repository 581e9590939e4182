"""``hpu.toml``: the same option names as the flags, read before the command line.

Top-level keys apply to every subcommand that has that option; a table such as
``[compare]`` applies to one subcommand and may only name its options::

    head-dim = 64
    lanes = 8
    permeability = [1.0, 0.5]

    [compare]
    seq = 256
    causal = true

Values go through the same parsers as the flags (same ranges, same messages),
and flags on the command line win over the file: a boolean set in the file is
turned off again with ``--no-NAME``.  An option taking ``NAME=VALUES`` items
(``hpu explore --grid``) may be given as a table::

    [explore.grid]
    lanes = [4, 8, 16]            # --grid lanes=4,8,16
    permeability = "1:0.25:-0.25" # --grid permeability=1:0.25:-0.25
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from hpu._parser import OptionInfo, Parser
from hpu_model.errors import HPUError

__all__ = ["ConfigFileError", "DEFAULT_PATH", "config_argv"]

DEFAULT_PATH = Path("hpu.toml")

#: Options that top-level keys never set (a table such as [compare] may set json and out for its command).
_PER_RUN = ("json", "out", "config")


class ConfigFileError(HPUError):
    """A config file that cannot be read or names an unknown option."""


def _toml_text(v) -> str:
    """A TOML value as the command line spells it: true/false, lists with commas, {lo, hi} as lo:hi."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return ",".join(_toml_text(x) for x in v)
    if isinstance(v, dict) and set(v) == {"lo", "hi"}:
        return f"{_toml_text(v['lo'])}:{_toml_text(v['hi'])}"
    return str(v)


def _tokens(key: str, value, option: OptionInfo, where: str) -> list[str]:
    if isinstance(value, dict) and option.action.metavar == "NAME=VALUES":  # a table, e.g. [explore.grid]
        return [f"--{key}", *(f"{k}={_toml_text(v)}" for k, v in value.items())]
    if option.kind == "flag":
        if not isinstance(value, bool):
            raise ConfigFileError(f"{where}: '{key}' must be true or false, got {value!r}")
        return [f"--{key}"] if value else [f"--no-{key}"]
    if isinstance(value, (dict, bool)) or value is None:
        raise ConfigFileError(f"{where}: '{key}' must be a number, string or list, got {value!r}")
    values = value if isinstance(value, list) else [value]
    if option.kind == "one" and len(values) != 1:
        raise ConfigFileError(f"{where}: '{key}' takes one value, got {value!r}")
    if not values:
        raise ConfigFileError(f"{where}: '{key}' needs at least one value, got an empty list")
    return [f"--{key}", *(str(v) for v in values)]


def _check_names(path: Path, data: dict, commands: dict[str, Parser]) -> None:
    """A section must be a subcommand and a top-level key some subcommand's option: a typo would else be
    ignored in silence, and the run would use the default instead of the value the user wrote."""
    for key, value in data.items():
        if isinstance(value, dict):
            if key not in commands:
                raise ConfigFileError(f"{path}: unknown section [{key}]; sections are subcommands: "
                                      f"{', '.join(commands)}")
        elif not any(key.replace("_", "-") in sub.options for sub in commands.values()):
            raise ConfigFileError(f"{path}: unknown option '{key}' (no subcommand has --{key.replace('_', '-')})")


def config_argv(path: Path, command: str, commands: dict[str, Parser]) -> list[str]:
    """Flags equivalent to the config file's settings for ``command`` (``commands``: every subcommand's parser)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigFileError(f"cannot read config file {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigFileError(f"config file {path} is not valid TOML: {exc}") from None
    _check_names(path, data, commands)
    options = commands[command].options
    argv: list[str] = []
    for key, value in data.items():
        name = key.replace("_", "-")
        if not isinstance(value, dict) and name in options and name not in _PER_RUN:
            argv += _tokens(name, value, options[name], str(path))
    section = data.get(command, {})
    if not isinstance(section, dict):
        raise ConfigFileError(f"{path}: [{command}] must be a table of options")
    for key, value in section.items():
        name = key.replace("_", "-")
        if name not in options or name == "config":
            allowed = ", ".join(sorted(k for k in options if k != "config"))
            raise ConfigFileError(f"{path}: unknown option '{key}' in [{command}]; allowed: {allowed}")
        argv += _tokens(name, value, options[name], f"{path} [{command}]")
    return argv
