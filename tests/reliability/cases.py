"""Every bad input the reliability tests try, in one list: the source of the table in docs/reliability.md.

A case is either an ``hpu`` command line (run in a folder holding the files
of :mod:`tests.reliability.files`) or a Python call (an expression evaluated
with the names of :func:`api_namespace`).  Each must end in exactly one line
that contains ``expect`` and, on the command line, exit status 2; a Python
call must raise an :class:`hpu_model.errors.HPUError` with that message.
``test_bad_input.py`` runs them all; ``render_table.py`` writes the table.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Case", "CASES", "CLI_CASES", "API_CASES", "api_namespace"]


@dataclass(frozen=True)
class Case:
    """One bad input and the message fragment it must produce."""

    area: str
    what: str
    expect: str
    argv: tuple[str, ...] = ()
    call: str = ""

    @property
    def how(self) -> str:
        return "hpu " + " ".join(self.argv) if self.argv else self.call

    @property
    def id(self) -> str:
        return f"{self.area}: {self.what}"


def _cli(area, what, argv: str, expect) -> Case:
    return Case(area, what, expect, argv=tuple(argv.split()))


def _api(area, what, call: str, expect) -> Case:
    return Case(area, what, expect, call=call)


_SIM = "sim --head-dim 8 --lanes 2 --seq 4"
_POWER = "power good.vcd --manifest good.manifest.json"

CLI_CASES = (
    # -- options and config ------------------------------------------------------------------------
    _cli("options", "n = 0", "golden --seq 0", "seq must be in 1..32768, got 0"),
    _cli("options", "n above the spec's maximum", "golden --seq 40000", "seq must be in 1..32768, got 40000"),
    _cli("options", "n not an integer", "golden --seq 4.5", "seq must be an integer in 1..32768, got '4.5'"),
    _cli("options", "n_q = 0", "golden --queries 0", "queries must be in 1..32768, got 0"),
    _cli("options", "D = 0", "golden --head-dim 0", "head-dim must be in 1..256, got 0"),
    _cli("options", "heads = 0", "golden --heads 0", "heads must be in 1..4096, got 0"),
    _cli("options", "p = 0", "golden --permeability 0", "permeability must be a number in (0, 1], got '0'"),
    _cli("options", "p < 0", "golden --permeability -0.5", "permeability must be a number in (0, 1], got '-0.5'"),
    _cli("options", "p > 1", "golden --permeability 1.01", "permeability must be a number in (0, 1], got '1.01'"),
    _cli("options", "p = NaN", "golden --permeability nan", "permeability must be a number in (0, 1], got 'nan'"),
    _cli("options", "p = Inf", "golden --permeability inf", "permeability must be a number in (0, 1], got 'inf'"),
    _cli("options", "p not a number", "golden --permeability half", "permeability must be a number in (0, 1]"),
    _cli("options", "negative seed", "golden --seed -1", "seed must be in 0..4294967295, got -1"),
    _cli("options", "causal with n_q > n", "golden --causal --seq 4 --queries 8",
         "causal attention needs n_q <= n_k, got n_q=8, n_k=4"),
    _cli("options", "JSON output is a folder", "golden --seq 4 --head-dim 4 --json .", "Is a directory: ."),
    _cli("options", "JSON output is the root folder", "golden --seq 4 --head-dim 4 --json /", "Is a directory: /"),
    _cli("options", "JSON output in an unwritable place", "golden --seq 4 --head-dim 4 --json /proc/x.json",
         "No such file or directory: /proc/x.json"),
    _cli("options", "JSON output under a file", "golden --seq 4 --head-dim 4 --json good.npz/r.json",
         "Not a directory: good.npz"),
    _cli("options", "benchmark with no repetition", "bench golden --seq 8 --repeat 0",
         "repeat must be in 1..1000, got 0"),
    _cli("options", "export D = 0", "export --head-dim 0 --rtl-dir x", "head-dim must be in 1..128, got 0"),
    _cli("options", "export L = 0", "export --lanes 0 --rtl-dir x", "lanes must be in 1..16, got 0"),
    _cli("options", "export L above 16", "export --lanes 17 --rtl-dir x", "lanes must be in 1..16, got 17"),
    _cli("options", "export N_MAX = 0", "export --max-seq 0 --rtl-dir x", "max-seq must be in 1..4096, got 0"),
    _cli("options", "export N_MAX above 4096", "export --max-seq 5000 --rtl-dir x",
         "max-seq must be in 1..4096, got 5000"),
    _cli("options", "export to a file, not a folder", "export --head-dim 4 --lanes 1 --max-seq 4 --rtl-dir good.npz",
         "--rtl-dir good.npz exists and is not a directory"),
    _cli("options", "sim L > D", "sim --head-dim 8 --lanes 9 --seq 4", "lanes must be an integer in 1..D=8, got 9"),
    _cli("options", "sim N_MAX < n", f"{_SIM} --max-seq 2", "max_seq must be an integer in 4..32768"),
    _cli("options", "sim VCD window backwards", f"{_SIM} --vcd w.vcd --vcd-window 5:3",
         "VCD window must be FROM:TO in cycles with 0 <= FROM < TO"),
    _cli("options", "sim VCD window without a VCD", f"{_SIM} --vcd-window 3:5", "a VCD window needs a VCD file"),
    _cli("options", "compare VCD window backwards",
         "compare --head-dim 8 --lanes 2 --seq 4 --vcd w.vcd --vcd-window 5:3",
         "VCD window must be FROM:TO in cycles with 0 <= FROM < TO"),
    _cli("options", "demo p list with 0", "demo --permeability 1 0",
         "permeability must be a number in (0, 1], got '0'"),
    _cli("options", "demo L = 0", "demo --lanes 0", "lanes must be in 1..16, got 0"),
    _cli("options", "fidelity p list with 2", "fidelity --permeability 0.5 2",
         "permeability must be a number in (0, 1], got '2'"),
    _cli("options", "capture limit = 0", "capture --limit 0 --save x.npz", "limit must be in 1..100000, got 0"),
    _cli("options", "unknown subcommand", "simulate", "invalid choice: 'simulate'"),
    _cli("config", "config value out of range", "--config zero_seq.toml golden", "seq must be in 1..32768, got 0"),
    _cli("config", "unknown option in a section", "--config unknown.toml golden",
         "unknown option 'sequence' in [golden]; allowed:"),
    _cli("config", "config is not TOML", "--config broken.toml golden", "config file broken.toml is not valid TOML"),
    _cli("config", "config value of the wrong type", "--config bool_seq.toml golden",
         "'seq' must be a number, string or list, got True"),
    _cli("config", "misspelt section", "--config typo_section.toml golden",
         "unknown section [goldne]; sections are subcommands: golden, export"),
    _cli("config", "misspelt top-level option", "--config typo_key.toml golden",
         "unknown option 'sequence' (no subcommand has --sequence)"),
    _cli("config", "config file missing", "--config nothere.toml golden", "cannot read config file nothere.toml"),
    # -- workload files ------------------------------------------------------------------------------
    _cli("workload file", "missing .npz", f"{_SIM} --inputs nothere.npz",
         "cannot read inputs nothere.npz: No such file or directory"),
    *(_cli("workload file", what, f"{_SIM} --inputs {name}", f"cannot read inputs {name}: not an .npz archive")
      for what, name in (("empty .npz", "empty.npz"), ("truncated .npz", "truncated.npz"),
                         ("text file named .npz", "text.npz"), ("random bytes named .npz", "binary.npz"))),
    _cli("workload file", "a lone .npy array named .npz", f"{_SIM} --inputs lone.npz",
         "one .npy array, not an .npz archive"),
    _cli("workload file", "entry with a bad CRC", f"{_SIM} --inputs corrupt.npz",
         "corrupt.npz: an entry is unreadable (Bad CRC-32"),
    _cli("workload file", "object (pickled) entry", f"{_SIM} --inputs object_q.npz",
         "object_q.npz: an entry is unreadable (Object arrays cannot be loaded"),
    _cli("workload file", "entries missing", f"{_SIM} --inputs no_v.npz", "no_v.npz: lacks v, c, r"),
    _cli("workload file", "runs of different lengths (zero padding)", f"{_SIM} --inputs padded.npz",
         "padded.npz: holds runs of different lengths (n_q and n_k); pick one with --run N"),
    _cli("workload file", "-128 in int8 q", f"{_SIM} --inputs minus128.npz", "minus128.npz: q[0, 1, 2] is -128"),
    _cli("workload file", "float32 q", f"{_SIM} --inputs float_q.npz",
         "float_q.npz: q must be an int8 array, got float32"),
    _cli("workload file", "NaN in q", f"{_SIM} --inputs nan_q.npz", "nan_q.npz: q must be an int8 array, got float64"),
    _cli("workload file", "q of the wrong shape", f"{_SIM} --inputs bad_shape.npz",
         "q must have shape [H, n, D] or [n, D], got (32,)"),
    _cli("workload file", "C not an integer", f"{_SIM} --inputs float_c.npz",
         "float_c.npz: c must be integers, got dtype float64"),
    _cli("workload file", "C out of range", f"{_SIM} --inputs big_c.npz",
         "big_c.npz: c holds 1000000000000: allowed 1..32767"),
    # -- waveforms, manifests, energy tables -------------------------------------------------------------
    _cli("waveform", "SAIF without a manifest", "power good.vcd --saif out.saif", "--saif needs --manifest FILE"),
    _cli("waveform", "missing VCD", "power nothere.vcd --manifest good.manifest.json", "nothere.vcd: no such"),
    _cli("waveform", "empty VCD", "power empty.vcd --manifest good.manifest.json", "empty.vcd: no '$enddefinitions"),
    _cli("waveform", "VCD cut in its header", "power truncated_header.vcd --manifest good.manifest.json",
         "its header is truncated"),
    _cli("waveform", "VCD cut mid-value", "power truncated_body.vcd --manifest good.manifest.json", "malformed VCD"),
    _cli("waveform", "VCD cut mid-value (vcdvcd reader)",
         "power truncated_body.vcd --manifest good.manifest.json --reader vcdvcd", "truncated VCD body"),
    _cli("waveform", "random bytes named .vcd", "power binary.vcd --manifest good.manifest.json", "not a VCD file"),
    _cli("waveform", "random bytes (pywellen reader)",
         "power binary.vcd --manifest good.manifest.json --reader pywellen", "pywellen cannot read it"),
    _cli("waveform", "signal 2e9 bits wide (hostile header)", "power huge_width.vcd --manifest good.manifest.json",
         "has width 2000000000: allowed 1..65536 bits"),
    _cli("waveform", "signal 0 bits wide", "power zero_width.vcd --manifest good.manifest.json --reader vcdvcd",
         "has width 0: allowed 1..65536 bits"),
    _cli("waveform", "X/Z everywhere, clock included", "power xz.vcd --manifest good.manifest.json",
         "no cycle to analyse: no rising edge of clock 'tb.dut.clk'"),
    _cli("waveform", "X/Z everywhere but the clock", "power xz_but_clock.vcd --manifest good.manifest.json",
         "the enable of unit 'u0' is X/Z at every counted clock edge (3 of 3 units)"),
    _cli("waveform", "VCD is a folder", "power . --manifest good.manifest.json", "no such waveform file"),
    _cli("waveform", "manifest of another design", "power good.vcd --manifest other.manifest.json",
         "signal 'tb.dut.u0.gate' named by the manifest is not in the waveform"),
    _cli("waveform", "wrong scope", f"{_POWER} --scope tb.nope", "signal 'tb.nope.clk' named by the manifest"),
    _cli("waveform", "--during signal missing", f"{_POWER} --during nosuch", "signal 'tb.dut.nosuch'"),
    _cli("waveform", "manifest is a JSON list", "power good.vcd --manifest list.manifest.json",
         "list.manifest.json: a manifest must be a JSON object"),
    _cli("waveform", "manifest not JSON", "power good.vcd --manifest broken.manifest.json", "is not valid JSON"),
    _cli("waveform", "manifest with negative ops", "power good.vcd --manifest negative_ops.manifest.json",
         "units[1].ops is -4; expected a non-negative integer"),
    _cli("energy table", "negative energy", f"{_POWER} --energy-table negative.energy.toml",
         "[switching] reg_bit_toggle is -0.005; expected an energy >= 0 in pJ"),
    _cli("energy table", "NaN energy", f"{_POWER} --energy-table nan.energy.toml",
         "[switching] reg_bit_toggle is nan; expected"),
    _cli("energy table", "Inf energy", f"{_POWER} --energy-table inf.energy.toml",
         "[switching] reg_bit_toggle is inf; expected"),
    _cli("energy table", "energy as a string", f"{_POWER} --energy-table string.energy.toml",
         "reg_bit_toggle is 'cheap'"),
    _cli("energy table", "class missing", f"{_POWER} --energy-table no_mac8.energy.toml", "has no [class.mac8]"),
    _cli("energy table", "not TOML", f"{_POWER} --energy-table broken.energy.toml", "not valid TOML"),
    _cli("energy table", "missing table", f"{_POWER} --energy-table nothere.toml", "no such energy table"),
    _cli("report", "run record without label, cycles, energy totals", "report record_no_energy.json",
         "not a run record of `hpu power --json` (no label, cycles, silent_ratio, energy.totals)"),
    _cli("report", "missing run record", "report nothere.json", "nothere.json: no such run record"),
)

API_CASES = (
    _api("golden", "float q", "golden.attention(q.astype(np.float32), k, v, permeability_q16=P, c=C, r=R)",
         "q must be an int8 array, got dtype float32"),
    _api("golden", "-128 in k", "golden.attention(q, k128, v, permeability_q16=P, c=C, r=R)", "k contains -128"),
    _api("golden", "1-D q", "golden.attention(q[0, 0], k, v, permeability_q16=P, c=C, r=R)",
         "q must have shape [..., n, D]"),
    _api("golden", "empty k", "golden.attention(q, k[:, :0], v[:, :0], permeability_q16=P, c=C, r=R)",
         "n_k=0 out of range"),
    _api("golden", "k and v differ in length", "golden.attention(q, k, v[:, :3], permeability_q16=P, c=C, r=R)",
         "k and v must have the same number of keys"),
    _api("golden", "P16 = 0", "golden.attention(q, k, v, permeability_q16=0, c=C, r=R)",
         "permeability_q16 must be an integer in [1, 65536], got 0"),
    _api("golden", "P16 a float", "golden.attention(q, k, v, permeability_q16=0.5, c=C, r=R)",
         "permeability_q16 must be an integer"),
    _api("golden", "C = 0", "golden.attention(q, k, v, permeability_q16=P, c=0, r=R)", "C must be an integer in"),
    _api("golden", "R = 25", "golden.attention(q, k, v, permeability_q16=P, c=C, r=25)",
         "R must be an integer in [0, 24], got 25"),
    _api("golden", "R = True", "golden.attention(q, k, v, permeability_q16=P, c=C, r=True)", "R must be an integer"),
    _api("spec", "p = NaN", "spec.permeability_q16(float('nan'))", "permeability must be in (0, 1], got nan"),
    _api("spec", "p = 0", "spec.permeability_q16(0)", "permeability must be in (0, 1], got 0"),
    _api("spec", "alpha = Inf", "spec.softmax_multiplier(float('inf'))", "alpha must be a positive finite number"),
    _api("spec", "alpha too small", "spec.softmax_multiplier(1e-12)", "cannot be represented"),
    _api("quant", "NaN in a float input", "quantize(np.array([0.5, np.nan]))", "non-finite value nan at index (1,)"),
    _api("quant", "Inf in a float input", "quantize(np.array([[1.0], [-np.inf]]))", "non-finite value -inf"),
    _api("quant", "empty float input", "quantize(np.zeros(0))", "non-empty array"),
    _api("workload", "negative seed", "random_workload(seed=-1)", "seed must be a non-negative integer, got -1"),
    _api("workload", "D above the spec", "random_workload(head_dim=300)", "head_dim=300 out of range: allowed 1..256"),
    _api("workload", "load a truncated file", "load_npz(d / 'truncated.npz')", "not a readable .npz workload file"),
    _api("workload", "load a plain npz without format", "load_npz(d / 'minus128.npz')", "missing entries format"),
    _api("workload", "save -128", "save_npz(d / 'out.npz', replace(w, q=q128))", "q[0, 1, 2] is -128"),
    _api("workload", "save NaN scales", "save_npz(d / 'out.npz', replace(w, scales=(np.nan, 1.0, 1.0)))",
         "scale_q must be positive finite"),
    _api("kernel", "-128 in q (interpreter)",
         "kernels.attention(*map(torch.from_numpy, (q128, k, v)), permeability_q16=P, c=C, r=R)", "q contains -128"),
    _api("kernel", "float q (interpreter)",
         "kernels.attention(torch.zeros(4, 8), *map(torch.from_numpy, (k[0], v[0])), permeability_q16=P, c=C, r=R)",
         "q must be"),
    _api("RTL", "D above the RTL's 128", "HPU(head_dim=129, lanes=1, max_seq=8)",
         "head_dim must be an integer in 1..128, got 129"),
    _api("RTL", "unknown fault-injection name", "faulty_hpu('stuck', head_dim=8, lanes=1, max_seq=8)",
         "fault must be one of None, 'tie_rule', 'k_off_by_one', got 'stuck'"),
    _api("RTL", "N_MAX = 0", "HPU(head_dim=8, lanes=1, max_seq=0)", "max_seq must be an integer in 1..4096, got 0"),
    _api("RTL", "Amaranth run longer than N_MAX",
         "rtl_simulate(q[0], k[0], v[0], permeability_q16=P, c=C, r=R, lanes=2, max_seq=2)",
         "n_q must be an integer in 1..2, got 4"),
    _api("co-simulation", "2-D q", "cosim_simulate(q[0], k, v, c=C, r=R, permeability_q16=P)",
         "q must have shape [H, n, D] (3 dims)"),
    _api("co-simulation", "L = 0", "cosim_simulate(q, k, v, c=C, r=R, permeability_q16=P, lanes=0)",
         "lanes must be an integer in 1..D=8, got 0"),
    _api("co-simulation", "per-head list of the wrong length",
         "cosim_simulate(q, k, v, c=[C, C], r=R, permeability_q16=P)", "c has 2 entries for 1 heads"),
    _api("co-simulation", "VCD window not FROM:TO",
         "cosim_simulate(q, k, v, c=C, r=R, permeability_q16=P, vcd='w.vcd', vcd_window='10')",
         "VCD window must be FROM:TO"),
    _api("co-simulation", "hang budget of 0 cycles",
         "cosim_simulate(q, k, v, c=C, r=R, permeability_q16=P, lanes=2, timeout_cycles=0)",
         "timeout_cycles must be a positive integer (cycles per head), got 0"),
    _api("co-simulation", "hang budget not an integer",
         "cosim_simulate(q, k, v, c=C, r=R, permeability_q16=P, lanes=2, timeout_cycles=2.5)",
         "timeout_cycles must be a positive integer (cycles per head), got 2.5"),
    _api("kernel", "k and v of different D (interpreter)",
         "kernels.attention(*map(torch.from_numpy, (q, k, v[..., :4].copy())), permeability_q16=P, c=C, r=R)",
         "head dims differ: q has D=8, k has D=8, v has D=4"),
    _api("golden", "batch dims that do not broadcast",
         "golden.attention(np.concatenate([q, q]), np.concatenate([k, k, k]), np.concatenate([v, v, v]), "
         "permeability_q16=P, c=C, r=R)", "batch dims do not broadcast"),
    _api("workload", "causal with n_q > n_k", "random_workload(n_q=8, n_k=4, causal=True)",
         "causal attention needs n_q <= n_k, got n_q=8, n_k=4"),
    _api("co-simulation", "skip a part that does not exist",
         "compare(q, k, v, c=C, r=R, permeability_q16=P, skip=['golden'])", "cannot skip ['golden']"),
    _api("power", "manifest without units", "load_manifest({'format': 'hpu-manifest/1', 'clock': 'clk'})",
         "'units' must be a non-empty list"),
    _api("power", "energy table without [switching]", "load_table({'class': {}})",
         "needs a [switching] table"),
    _api("power", "unit active longer than the run",
         "from_activity(d / 'good.manifest.json', {'u0': 9, 'u1': 0, 'u2': 0}, 4)",
         "unit 'u0': 9 active cycles is not within 0..4"),
)

CASES = CLI_CASES + API_CASES


def api_namespace(folder) -> dict:
    """Names the ``call`` expressions use: a valid tiny workload (D=8, n=4), its variants and the APIs."""
    from dataclasses import replace
    from pathlib import Path

    import numpy as np

    from cosim._compare import compare
    from cosim.sim import simulate as cosim_simulate
    from hpu_model import golden, spec
    from hpu_model.quant import quantize
    from hpu_model.workload import load_npz, random_workload, save_npz
    from hpu_rtl import HPU
    from hpu_rtl import simulate as rtl_simulate
    from hpu_rtl._faults import faulty_hpu
    from power import load_manifest
    from power.energy import from_activity, load_table

    w = random_workload(heads=1, n_k=4, head_dim=8, seed=1)
    q128, k128 = w.q.copy(), w.k.copy()
    q128[0, 1, 2] = k128[0, 0, 0] = -128
    ns = dict(np=np, golden=golden, spec=spec, quantize=quantize, random_workload=random_workload,
              load_npz=load_npz, save_npz=save_npz, replace=replace, HPU=HPU, faulty_hpu=faulty_hpu,
              rtl_simulate=rtl_simulate,
              cosim_simulate=cosim_simulate, compare=compare, load_manifest=load_manifest, load_table=load_table,
              from_activity=from_activity, w=w, q=w.q, k=w.k, v=w.v, q128=q128, k128=k128, C=w.c, R=w.r,
              P=1 << 15, d=Path(folder))

    class _Lazy(dict):
        """torch and the kernel are imported only by the cases that use them (seconds of start-up)."""

        def __missing__(self, key):
            if key == "torch":
                import torch
                return torch
            if key == "kernels":
                import kernels
                return kernels
            raise KeyError(key)

    return _Lazy(ns)
