"""The power manifest: the one contract between the exported RTL and the power analyzer.

``hpu export`` (:func:`hpu_rtl.export_verilog`) writes ``hpu.manifest.json``
beside ``hpu.v``; the power analyzer reads it to find each unit's clock
enable, scope and size in a waveform.  The JSON form is validated on read
(:meth:`Manifest.from_json`); an invalid file is a :class:`ManifestError`
whose one-line message names the field, its value and what is allowed.

``design_hash`` ties the manifest to one Verilog text: ``sha256:`` and the
hex SHA-256 of the exact bytes of ``hpu.v`` (:func:`design_hash`).  A
testbench proves that a waveform belongs to the design by dumping a
256-bit signal named :data:`DESIGN_HASH_SIGNAL` whose value is that digest
(:func:`design_hash_value`); a manifest built without Verilog
(:func:`hpu_rtl.build_manifest`) has ``design_hash = None``.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, ValidationError, model_validator

from .artifacts import atomic_write_json, read_document
from .errors import HPUError

__all__ = ["FORMAT", "UNIT_CLASSES", "DESIGN_HASH_SIGNAL", "MANIFEST_HASH_SIGNAL", "content_hash",
           "ManifestError", "Unit", "Memory", "Params",
           "Manifest", "design_hash", "design_hash_value"]

#: the manifest format written and accepted (the only place this string is spelt)
FORMAT = "hpu-manifest/1"
#: unit classes, in the order reports list them (energy tables have one section per class)
UNIT_CLASSES = ("mac8", "mul", "add32", "cmp", "lut_read", "div", "reg", "ctrl")
#: name of the 256-bit testbench signal that carries the design hash's digest in a waveform
DESIGN_HASH_SIGNAL = "design_hash"
#: name of the 256-bit testbench signal that carries :func:`content_hash` of the design's manifest
MANIFEST_HASH_SIGNAL = "manifest_hash"
_HASH = re.compile(r"^sha256:[0-9a-f]{64}$")


class ManifestError(HPUError):
    """A power manifest that does not fit the schema or names a signal the waveform lacks."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=True)


class Unit(_Strict):
    """A clock-gated datapath unit: its instance scope, 1-bit enable and size."""

    name: str = Field(min_length=1, description="unique unit name (cycle model's unit_active key)")
    scope: str = Field(description="instance path of the unit relative to the top, e.g. 'score_lane0'")
    enable: str = Field(min_length=1, description="1-bit clock enable relative to the top, e.g. 'score_lane0.en'")
    cls: Literal[UNIT_CLASSES] = Field(alias="class", description="energy-table class")
    ops: NonNegativeInt = Field(description="operations per active cycle")
    bits: NonNegativeInt = Field(description="datapath width of one operation, bits")
    reg_bits: NonNegativeInt = Field(description="flip-flop bits the unit drives")
    operand_bits: list[NonNegativeInt] | None = Field(
        None, min_length=2, max_length=2,
        description="widths of a multiplier's two operands (product rule); None: both are 'bits'")


class Memory(_Strict):
    """One port of a memory: which enable reads or writes it, and the array's geometry."""

    name: str = Field(min_length=1, description="unique port name, e.g. 'k_mem.rd0' or 'k_mem' (write)")
    scope: str = Field(description="instance path of the memory relative to the top")
    read_enable: str | None = Field(description="1-bit read enable, or None for a write port")
    write_enable: str | None = Field(description="1-bit write enable, or None for a read port")
    width: PositiveInt = Field(description="word width, bits")
    depth: PositiveInt = Field(description="words")

    @model_validator(mode="after")
    def _one_enable(self):
        if self.read_enable is None and self.write_enable is None:
            raise ValueError(f"memory {self.name!r} has neither read_enable nor write_enable")
        return self


class Params(_Strict):
    """The generator parameters the design was exported with."""

    head_dim: PositiveInt
    lanes: PositiveInt
    max_seq: PositiveInt
    score_bits: PositiveInt
    sel_comparators: NonNegativeInt
    radix_passes: NonNegativeInt


class Manifest(_Strict):
    """``hpu.manifest.json``: clock, units and memory ports of one exported design."""

    format: Literal[FORMAT] = FORMAT
    spec_version: str
    top: str = Field(min_length=1, description="top module name")
    params: Params | None = Field(None, description="generator parameters; None for a design not made by hpu export")
    clock: str = Field(min_length=1, description="clock signal relative to the top")
    units: list[Unit] = Field(min_length=1)
    memories: list[Memory] = []
    design_hash: str | None = Field(None, description="'sha256:' + SHA-256 of hpu.v's bytes; None if not exported")

    @model_validator(mode="after")
    def _unique(self):
        if self.design_hash is not None and not _HASH.match(self.design_hash):
            raise ValueError(f"design_hash {self.design_hash!r} is not 'sha256:' and 64 lower-case hex digits")
        for kind in ("units", "memories"):
            seen = set()
            for entry in getattr(self, kind):
                if entry.name in seen:
                    raise ValueError(f"{kind} name {entry.name!r} appears twice")
                seen.add(entry.name)
        return self

    def to_json(self) -> dict:
        """The JSON form (``class`` spelt as in the file)."""
        return self.model_dump(mode="json", by_alias=True)

    def write(self, path):
        """Write the JSON form atomically; returns the path."""
        return atomic_write_json(path, self.to_json())

    @classmethod
    def from_json(cls, data, where: str = "manifest") -> Manifest:
        """Validate a JSON object (dict) into a manifest; :class:`ManifestError` says what is wrong."""
        if isinstance(data, Manifest):
            return data
        if not isinstance(data, dict):
            raise ManifestError(f"{where}: a manifest must be a JSON object, got {type(data).__name__}")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ManifestError(f"{where}: {_one_line(exc, data)}") from None

    @classmethod
    def read(cls, source) -> Manifest:
        """Read a manifest file (path), or validate a dict or a :class:`Manifest`."""
        if isinstance(source, (dict, Manifest)):
            return cls.from_json(source)
        return cls.from_json(read_document(source, "manifest", ManifestError), str(source))


def design_hash(verilog: str | bytes) -> str:
    """``sha256:<hex>`` of the Verilog text exactly as written to ``hpu.v``."""
    data = verilog.encode() if isinstance(verilog, str) else verilog
    return "sha256:" + hashlib.sha256(data).hexdigest()


def content_hash(manifest) -> str:
    """``sha256:<hex>`` of a manifest's content (units, memories, params; not its ``design_hash``).

    The testbench stamps it into every VCD beside the design hash, so a manifest whose units or memories were
    edited after export no longer matches the waveform (power/_seal.py).
    """
    data = Manifest.read(manifest).to_json()
    data.pop("design_hash", None)
    return "sha256:" + hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def design_hash_value(digest: str) -> int:
    """The 256-bit value a testbench's :data:`DESIGN_HASH_SIGNAL` holds for ``digest``."""
    if not _HASH.match(digest):
        raise ManifestError(f"design hash {digest!r} is not 'sha256:' and 64 lower-case hex digits")
    return int(digest[7:], 16)


def _one_line(exc: ValidationError, data: dict) -> str:
    # the format first (a file of another kind fails everywhere), then the units (most of the contract)
    err = min(exc.errors(), key=lambda e: {"format": 0, "units": 1}.get(e["loc"][0] if e["loc"] else "", 2))
    loc = err["loc"]
    path = "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(loc))
    if loc == ("units",) and err["type"] in ("missing", "too_short", "list_type"):
        return "'units' must be a non-empty list"
    if loc == ("format",):
        return f"format is {err['input']!r}, expected {FORMAT!r}"
    if len(loc) == 3 and loc[0] == "units" and loc[2] == "class":
        name = data["units"][loc[1]].get("name")
        return f"unit {name!r} has class {err['input']!r}; allowed: {', '.join(UNIT_CLASSES)}"
    if err["type"] == "missing":
        return f"'{path}' is missing"
    if err["type"] == "value_error":
        return str(err["ctx"]["error"])
    expected = {"greater_than_equal": "a non-negative integer", "greater_than": "a positive integer",
                "int_type": "an integer", "string_type": "a string", "bool_type": "true or false",
                "list_type": "a list", "dict_type": "a JSON object", "too_short": "a longer list",
                "too_long": "a shorter list", "extra_forbidden": "no such field (a misspelt key?)"}.get(err["type"])
    if expected is None:
        return f"{path} is {err.get('input')!r}; {err['msg'][0].lower()}{err['msg'][1:]}"
    return f"{path} is {err.get('input')!r}; expected {expected}"
