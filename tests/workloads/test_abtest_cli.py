"""`hpu abtest` end to end on the tiny size: bad input, and --resume of an interrupted run."""

import json

import pytest
import torch

from hpu.cli import main
from workloads.abtest.config import TrainConfig
from workloads.abtest.train import Trainer

TINY = ["abtest", "--size", "tiny", "--steps", "6", "--batch-size", "2", "--eval-every", "3", "--eval-windows", "2",
        "--no-energy"]


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("args, msg", [
    (["--kv-budget", "64", "--decode"], "--kv-budget 64 exceeds the context of 32 keys"),
    (["--backend", "kernel"], "--backend kernel needs --device cuda"),
    (["--device", "tpu"], "--device must be cpu or cuda"),
    (["--permeability", "0"], "permeability must be a number in (0, 1]"),
    (["--permeability", "0.5", "0.5"], "permeability 0.5 is given twice"),
    (["--gate", "tile", "--tile", "3"], "tile must be a power of two in 1..256"),
    (["--steps", "5", "--warmup", "6"], "warmup must be in 0..steps=5"),
    (["--hpu-windows", "9"], "--hpu-windows 9 exceeds --eval-windows 2"),
    (["--ctx", "64"], "ctx must be in 2..32 for size tiny"),
    (["--recent-fraction", "0"], "recent fraction must be in (0, 1]"),
])
def test_bad_input_is_one_line_and_exit_2(args, msg, capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        rc = main(TINY + ["--out", str(tmp_path)] + args)
        raise SystemExit(rc)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert msg in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not any(tmp_path.iterdir())  # no run folder for a refused command


def test_resume_missing_checkpoint(capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        raise SystemExit(main(TINY + ["--resume", str(tmp_path)]))
    assert exc.value.code == 2 and "no checkpoint.pt" in capsys.readouterr().err


def test_resumed_run_reports_what_an_uninterrupted_run_reports(tmp_path):
    assert main(TINY + ["--out", str(tmp_path / "whole"), "--json", str(tmp_path / "whole.json")]) == 0
    whole = json.loads((tmp_path / "whole.json").read_text())
    # The same configuration (the CLI's defaults are TrainConfig's), interrupted after step 3
    # (its checkpoint written), then resumed by the CLI.
    torch.set_num_threads(1)
    cfg = TrainConfig(size="tiny", steps=6, batch_size=2, eval_every=3, eval_windows=2)
    Trainer(cfg, tmp_path / "cut").train(stop_after=3)
    assert main(TINY + ["--resume", str(tmp_path / "cut")]) == 0
    resumed = json.loads((tmp_path / "cut" / "summary.json").read_text())
    assert resumed["config"] == whole["config"]
    assert resumed["history"]["train"] == whole["history"]["train"]
    assert resumed["history"]["held_out"] == whole["history"]["held_out"]
    assert resumed["evaluation"]["runs"] == whole["evaluation"]["runs"]
    for name in ("index.html", "report.md", "losses.png"):
        assert (tmp_path / "cut" / name).is_file()
    # A finished run is not resumed again: its report would be overwritten.
    with pytest.raises(SystemExit) as exc:
        raise SystemExit(main(TINY + ["--resume", str(tmp_path / "cut")]))
    assert exc.value.code == 2
