"""The failure classes of issue 17, each with its general mechanism and every case the tests try.

A case is an ``hpu`` command line (run like the bad-input cases: exit 2, one
line holding ``expect``) or a check done by a named test (``test`` is its
pytest id under ``tests/reliability/``).  ``render_table.py`` writes one
section per class into docs/reliability.md; ``test_bad_input.py`` runs the
command lines and checks that every named test exists.
"""

from __future__ import annotations

from dataclasses import dataclass

from .cases import Case

__all__ = ["CLASSES", "Check", "CHECKS", "CLASS_CLI_CASES"]

_POWER = "power good.vcd --manifest good.manifest.json"


@dataclass(frozen=True)
class FailureClass:
    key: str
    title: str
    mechanism: str


CLASSES = (
    FailureClass("valid", "Results that look valid but are not",
                 "each result is checked by the layer that can prove it: the VCD carries its design's hash and a "
                 "run-complete flag, checked before analysis (`power/_seal.py`); the simulator's outputs are "
                 "checked whole before they are published (`cosim.sim._check_vcd`); a comparison needs a pair "
                 "(`cosim._compare.compare`); one reader applies a workload file's flags "
                 "(`hpu_model.workload.read_inputs`); reports refuse runs of different designs "
                 "(`power.report.check_same_design`)"),
    FailureClass("files", "Files",
                 "one file policy in `hpu_model/artifacts.py`: readers note their inputs (`note_input`), every "
                 "write resolves and checks its target (`output_path`: never an input, symlinks written "
                 "through), finished files move atomically (`publish`), and `guarded_run` (the scope of every "
                 "`hpu` command) turns SIGTERM into Ctrl-C's unwinding so temporaries are removed"),
    FailureClass("late", "Tracebacks and late failures",
                 "validation before work in the one place that owns each fact (`perf.Geometry`: L <= D before any "
                 "build; `DemoConfig`, `check_run_list`: the whole demo plan; `read_inputs`, `load_run`: files "
                 "on read); errors name the user's path (`artifacts`, `hpu.cli`), never `None`; any other "
                 "exception is one line and exit 3, never the interpreter's exit 1 (which means mismatch); the "
                 "float64 reference works in query blocks"),
)


def _cli(cls, what, argv: str, expect) -> Case:
    return Case(cls, what, expect, argv=tuple(argv.split()))


CLASS_CLI_CASES = (
    _cli("valid", "comparison with nothing compared", "compare --head-dim 8 --lanes 2 --seq 4 --skip kernel --skip rtl",
         "nothing to compare: skipping kernel and rtl leaves only the golden model"),
    _cli("valid", "VCD with no design hash, manifest of an exported design",
         "power good.vcd --manifest hashed.manifest.json", "carries no design hash (tb.design_hash)"),
    _cli("valid", "VCD of another design than the manifest's", "power stamped.vcd --manifest hashed.manifest.json",
         "is a waveform of design sha256:c3c3c3c3c3c3..., but the manifest describes design sha256:5a5a5a5a5a5a"),
    _cli("valid", "manifest with a unit deleted (same design hash)", "power sealed.vcd --manifest edited.manifest.json",
         "was simulated with another manifest (content sha256:"),
    _cli("valid", "VCD cut short (run_complete still 0)", "power unfinished.vcd --manifest hashed.manifest.json",
         "ends before its run finished (tb.run_complete is still 0)"),
    _cli("valid", "VCD of another simulator ending while busy", "power busy_at_end.vcd --manifest good.manifest.json",
         "ends while tb.dut.busy is 1: the run had not finished"),
    _cli("valid", "report mixing runs of two designs", "report dense.json gated.json",
         "runs of different designs: 'dense' is sha256:5a5a5a5a5a5a..., 'gated' is sha256:c3c3c3c3c3c3"),
    _cli("valid", "workload file with 2 q runs for 3 k, v runs", "sim --inputs runs_2_3.npz --lanes 2",
         "q, k, v must hold the same number of runs H (or 1, shared), got 2, 3, 3"),
    _cli("files", "JSON result onto the input VCD", f"{_POWER} --json good.vcd",
         "refusing to write good.vcd: it is an input of this run"),
    _cli("files", "JSON result onto the input manifest", f"{_POWER} --json good.manifest.json",
         "refusing to write good.manifest.json: it is an input of this run"),
    _cli("files", "JSON result through a symlink to the input VCD", f"{_POWER} --json link_to_vcd.json",
         "refusing to write link_to_vcd.json: it is an input of this run (the same file as input good.vcd)"),
    _cli("files", "VCD onto the input workload file", "sim --inputs good.npz --lanes 2 --vcd good.npz",
         "refusing to write good.npz: it is an input of this run"),
    _cli("files", "SAIF onto the input VCD", f"{_POWER} --saif good.vcd",
         "refusing to write good.vcd: it is an input of this run"),
    _cli("files", "JSON result onto the config file", "--config seed.toml golden --seq 4 --json seed.toml",
         "refusing to write seed.toml: it is an input of this run"),
    _cli("late", "zero-head workload file", "sim --inputs zero_heads.npz --lanes 2",
         "zero_heads.npz: q must have shape [H, n, D] with every size >= 1, got (0, 4, 8)"),
    _cli("late", "run record with null energy", "report record_null_energy.json",
         "record_null_energy.json: energy.totals.total is None"),
    _cli("late", "run record with a string energy", "report record_string_energy.json",
         "record_string_energy.json: energy.totals.total is '12 pJ'"),
    _cli("late", "demo with the same p twice", "demo --permeability 1 0.5 1", "permeability 1 is given twice"),
    _cli("late", "demo with L > D (was: minutes of compiling)", "demo --head-dim 8 --lanes 16",
         "lanes must be an integer in 1..8, got 16"),
    _cli("late", "export with L > D (was: minutes of compiling)", "export --head-dim 8 --lanes 16 --rtl-dir x",
         "lanes must be an integer in 1..8, got 16"),
    _cli("late", "demo n above the RTL's N_MAX", "demo --seq 5000", "seq (at most the RTL's N_MAX) must be an integer"),
    _cli("late", "fidelity with two p of the same P16", "fidelity --permeability 1 0.5 0.500001",
         "permeability 0.500001 is given twice (or two values round to the same P16)"),
    _cli("late", "config file named like a subcommand", "--config golden golden --seq 8",
         "seq must be in 1..32768, got 0"),
)


@dataclass(frozen=True)
class Check:
    """A case checked by a named test rather than by its one line."""

    cls: str
    what: str
    how: str
    expect: str
    test: str


CHECKS = (
    Check("valid", "the whole stamped VCD with its own manifest", "real Icarus VCD", "accepted (the checks refuse "
          "nothing true)", "test_sim_outputs.py::test_power_accepts_the_simulated_vcd_with_its_own_manifest"),
    Check("valid", "VCD cut at a line boundary (30, 60, 95 % of the body)", "real Icarus VCD, cut",
          "refused: run_complete 0 or busy 1 at the end",
          "test_sim_outputs.py::test_power_refuses_a_vcd_cut_at_a_line_boundary"),
    Check("valid", "manifest of another design (hash differs)", "real VCD, edited manifest",
          "refused naming both hashes", "test_sim_outputs.py::test_power_refuses_a_manifest_of_another_design"),
    Check("valid", "simulator's VCD ends early (disk full)", "`_check_vcd` on a cut VCD",
          "SimulationError, nothing published", "test_sim_outputs.py::test_truncated_vcd_never_reaches_the_users_path"),
    Check("valid", "--vcd-window beyond the run end", "`simulate(vcd_window='100000:')`",
          "SimulationError, no file",
          "test_sim_outputs.py::test_vcd_window_beyond_the_run_end_is_an_error_and_no_file"),
    Check("valid", "non-ASCII --vcd path (Icarus refuses it)", "`simulate(vcd='wäves/résult.vcd')`",
          "the whole stamped VCD at that path",
          "test_sim_outputs.py::test_non_ascii_vcd_path_gets_the_whole_stamped_vcd"),
    Check("valid", "workload file flags without --run", "causal file, plain file, --no-causal",
          "causal applied; contradiction refused", "test_results.py::test_workload_file_flags_apply_without_run"),
    Check("valid", "broadcast workload file", "q [1, n, D], k and v [3, n, D]", "3 heads for every command",
          "test_results.py::test_broadcast_workload_file_is_the_same_heads_everywhere"),
    Check("valid", "report of different designs, Python API", "`write_report(runs)`",
          "refused unless mixed_designs=True", "test_results.py::test_report_of_runs_of_different_designs_is_refused"),
    Check("files", "output onto an input, Python API", "`read_document` then `atomic_write_json`",
          "ClobberError in a guarded run", "test_files.py::test_output_onto_an_input_is_refused_and_the_input_kept"),
    Check("files", "output onto an input by another name (symlink, hard link, ..)", "3 aliases",
          "ClobberError", "test_files.py::test_output_onto_an_input_through_another_name_is_refused"),
    Check("files", "symlinked output (and a dangling one)", "`atomic_write_json(link)`",
          "the target is written, the link kept",
          "test_files.py::test_symlinked_output_is_written_through_never_replaced"),
    Check("files", "symlink loop as the output", "a.json -> b.json -> a.json", "refused (ELOOP), both links kept",
          "test_files.py::test_symlink_loop_as_output_is_refused_and_kept"),
    Check("files", "finished file moved across file systems", "`publish` with EXDEV",
          "copy + fsync + rename, no temporary",
          "test_files.py::test_publish_moves_a_finished_file_atomically_also_across_file_systems"),
    Check("files", "SIGTERM while writing", "a writer process, SIGTERM", "old file kept, no temporary",
          "test_files.py::test_sigterm_inside_a_guarded_run_removes_the_temporary_file"),
    Check("files", "interrupted RTL build", "Ctrl-C in the compile", "no build folder left",
          "test_sim_outputs.py::test_interrupted_build_leaves_no_build_folder"),
    Check("files", "VCD onto an input, before the build", "`simulate(vcd=<input>)` in a guarded run",
          "ClobberError, nothing built", "test_sim_outputs.py::test_vcd_onto_an_input_is_refused_before_the_build"),
    Check("late", "disk full while writing a result", "fsync raises ENOSPC",
          "'No space left on device: <user path>', never None",
          "test_files.py::test_no_space_names_the_users_path_never_none_or_a_temporary"),
    Check("late", "Icarus missing", "no iverilog/vvp on PATH", "one line: 'Icarus Verilog is missing'",
          "test_sim_outputs.py::test_missing_icarus_says_icarus_is_missing"),
    Check("late", "float64 reference at large n", "n = 8192 (a 512 MiB matrix)", "peak < 200 MiB, same values",
          "test_bounded.py::test_reference_memory_is_bounded_by_query_blocks"),
    Check("late", "zero-size workload file, Python API", "0 heads, 0 rows", "one-line WorkloadFileError",
          "test_results.py::test_zero_size_workload_file_is_one_line_error"),
    Check("late", "run record energy None, string, NaN, < 0, bool", "`load_run`", "one-line ManifestError",
          "test_results.py::test_run_record_whose_energy_is_not_a_number_is_one_line_error"),
    Check("late", "unexpected exception in a command", "a command raising TypeError",
          "one line, exit 3 (1 means mismatch)", "test_cli_paths.py::test_internal_error_is_one_line_exit_3"),
)
