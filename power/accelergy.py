"""Action counts for Accelergy/Timeloop users (``action_counts`` YAML, Accelergy 0.3/0.4 layout).

Each manifest unit becomes a component ``<top>.<unit>`` with the actions of
the energy table: ``op`` (active cycles x ops), ``gated_cycle`` (gated
cycles x ops), ``leak_cycle`` (cycles x ops) and, when measured from a
waveform, ``bit_toggle``; each memory gets ``read`` and ``write`` (accesses
of ``width`` bits).  Pair it with an ERT (energy reference table) for the
same action names, or read the counts into your own model.
"""

from __future__ import annotations

from hpu_model.artifacts import atomic_write_text

__all__ = ["action_counts", "action_counts_yaml", "write_action_counts"]


def action_counts(activity) -> dict:
    """``{component: {action: count}}`` of an analysed run (integers; toggles may end in .5)."""
    top = activity.manifest.top
    out = {}
    for u in activity.manifest.units:
        active, ops = activity.unit_active[u.name], u.ops
        out[f"{top}.{u.name}"] = {"op": active * ops, "gated_cycle": (activity.cycles - active) * ops,
                                     "leak_cycle": activity.cycles * ops,
                                     "bit_toggle": activity.unit_toggles2[u.name] / 2}
    for m in activity.manifest.memories:
        out[f"{top}.{m.name}"] = {"read": activity.memory_reads[m.name], "write": activity.memory_writes[m.name]}
    return out


def action_counts_yaml(activity) -> str:
    """The counts as Accelergy ``action_counts`` YAML (written by hand: the layout is flat and fixed)."""
    lines = ["# Action counts measured by `hpu power` from a waveform (" + activity.path + ").",
             f"# {activity.cycles} clock cycles; classes and per-op sizes are in the hpu manifest.",
             "action_counts:", "  version: 0.4", "  local:"]
    for comp, actions in action_counts(activity).items():
        lines += [f"  - name: {comp}", "    action_counts:"]
        for action, count in actions.items():
            value = int(count) if float(count).is_integer() else count
            lines += [f"    - name: {action}", f"      counts: {value}"]
    return "\n".join(lines) + "\n"


def write_action_counts(activity, path) -> None:
    """Write :func:`action_counts_yaml` to ``path`` atomically."""
    atomic_write_text(path, action_counts_yaml(activity))
