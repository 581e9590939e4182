"""Where the design sits in a waveform: the scope under which every signal a manifest names is found."""

from __future__ import annotations

from hpu_model.manifest import Manifest

from ._errors import ManifestError

__all__ = ["required_signals", "find_scope"]

#: the enables of a memory port entry
PORTS = ("read_enable", "write_enable")


def required_signals(manifest: Manifest, during: str | None) -> list[str]:
    names = [manifest.clock, *(u.enable for u in manifest.units)]
    names += [getattr(m, k) for m in manifest.memories for k in PORTS if getattr(m, k)]
    return names + ([during] if during else [])


def find_scope(names, manifest: Manifest, scope: str | None = None, during: str | None = None) -> str:
    """The hierarchical path of the ``hpu`` instance in a waveform (e.g. ``tb.dut``).

    Parameters
    ----------
    names : collection of str
        Every full signal name in the waveform.
    scope : str, optional
        The user's choice; checked, not searched.

    Raises
    ------
    ManifestError
        When no scope holds every signal the manifest names (the message names the
        first one missing), or when several do and ``scope`` was not given.
    """
    names = set(names)
    required = required_signals(manifest, during)

    def missing(prefix):
        return [r for r in required if (f"{prefix}.{r}" if prefix else r) not in names]

    if scope is not None:
        scope = scope.strip(".")
        lost = missing(scope)
        if lost:
            raise ManifestError(f"signal {(scope + '.' if scope else '') + lost[0]!r} named by the manifest is "
                                f"not in the waveform ({len(lost)} of {len(required)} missing under scope {scope!r})")
        return scope
    # candidate scopes: every prefix under which some required signal appears
    wanted = set(required)
    candidates = set()
    for n in names:
        if n in wanted:
            candidates.add("")
        for i, ch in enumerate(n):
            if ch == "." and n[i + 1:] in wanted:
                candidates.add(n[:i])
    candidates = sorted(candidates)
    if not candidates:
        raise ManifestError(f"none of the {len(required)} signals the manifest names (clock {manifest.clock!r}, "
                            "unit enables, memory enables) is in the waveform: is it a VCD of this design?")
    full = [c for c in candidates if not missing(c)]
    if len(full) > 1:
        raise ManifestError(f"several instances fit the manifest: {', '.join(full)}; choose one with --scope")
    if not full:
        best = min(candidates, key=lambda c: len(missing(c)))
        lost = missing(best)
        raise ManifestError(f"signal {(best + '.' if best else '') + lost[0]!r} named by the manifest is not in "
                            f"the waveform ({len(lost)} of {len(required)} missing under scope {best!r})")
    return full[0]
