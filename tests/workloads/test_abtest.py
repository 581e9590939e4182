"""The A/B test library on a tiny configuration: gate, warm-up, HPU evaluation, resume, report."""

import json

import numpy as np
import pytest
import torch

from hpu_model import golden, spec
from hpu_model.quant import quantize
from workloads.abtest import data, gate, run
from workloads.abtest.hpu import HPUAttention
from workloads.abtest.model import GPT, SIZES
from workloads.abtest.train import TrainConfig, Trainer, TrainError


@pytest.fixture(autouse=True)
def one_thread():
    # Two torch threads per xdist worker on 2 shared cores spin against each other (measured 20x slower).
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def corpus():
    return data.load_corpus(max_bytes=400_000)


def tiny(**kw):
    base = dict(size="tiny", permeabilities=(0.5,), steps=12, batch_size=4, eval_every=4, eval_windows=4,
                checkpoint_every=5)
    return TrainConfig(**(base | kw))


def test_split_is_by_file_and_deterministic(corpus):
    again = data.load_corpus(max_bytes=400_000)
    assert again.digest == corpus.digest
    assert np.array_equal(again.held_out, corpus.held_out)
    assert corpus.train_files > 0 and corpus.held_out_files > 0
    # No held-out file's text occurs in the train stream (split by file, not by window).
    files = bytes(corpus.held_out).split(b"\0")
    probe = max(files, key=len)[:200]
    assert probe not in bytes(corpus.train)
    x1, y1 = data.batch(corpus.train, seed=3, step=9, batch_size=2, ctx=16)
    x2, y2 = data.batch(corpus.train, seed=3, step=9, batch_size=2, ctx=16)
    assert np.array_equal(x1, x2) and np.array_equal(x1[:, 1:], y1[:, :-1])


def test_token_gate_equals_golden_keep_mask_on_integer_scores():
    # Integer q, k as floats give exact float scores, ties included; the golden model is the oracle.
    rng = np.random.default_rng(0)
    for p in (0.5, 0.25, 0.1, 0.9):
        q, k = (rng.integers(-3, 4, size=(3, 24, 4)).astype(np.int8) for _ in range(2))
        p16 = spec.permeability_q16(p)
        scores = torch.from_numpy(q.astype(np.float32)) @ torch.from_numpy(k.astype(np.float32)).transpose(-1, -2)
        got = gate.token_keep(scores, p16, causal=True).numpy()
        np.testing.assert_array_equal(got, golden.keep_mask(q, k, permeability_q16=p16, causal=True))


@pytest.mark.parametrize("tile, block, n", [(4, 4, 32), (4, 8, 30), (8, 2, 27), (1, 1, 12)])
def test_tile_gate_equals_golden_keep_mask(tile, block, n):
    # Rows constant within each key tile / query block make float means equal v2's rounded int8 means;
    # small values make tile-score ties, so the lowest-index rule is exercised.
    rng = np.random.default_rng(tile * 100 + block + n)
    for p in (0.5, 0.25, 0.75):
        ks = rng.integers(-2, 3, size=(2, -(-n // tile), 3))
        qs = rng.integers(-2, 3, size=(2, -(-n // block), 3))
        k = np.repeat(ks, tile, axis=1)[:, :n].astype(np.int8)
        q = np.repeat(qs, block, axis=1)[:, :n].astype(np.int8)
        p16 = spec.permeability_q16(p)
        got = gate.tile_keep(torch.from_numpy(q.astype(np.float32)), torch.from_numpy(k.astype(np.float32)), p16,
                             tile=tile, block=block, causal=True).numpy()
        want = golden.keep_mask(q, k, permeability_q16=p16, causal=True, gate="tile", tile=tile, block=block)
        np.testing.assert_array_equal(got, want)


def test_gradients_flow_only_through_kept_connections():
    torch.manual_seed(0)
    attn = GPT(SIZES["tiny"]).blocks[0].attn
    q, k, v = (torch.randn(1, 1, 10, 4, requires_grad=True) for _ in range(3))
    p16 = spec.permeability_q16(0.3)
    out = attn.float_attention(q, k, v, gate="token", p16=p16, tile=4, block=4)
    out[0, 0, 9].sum().backward()
    keep = gate.token_keep(q @ k.transpose(-1, -2) * attn.scaling, p16)[0, 0, 9]
    assert keep.sum() == spec.keep_count(10, p16)
    assert torch.equal(v.grad[0, 0].abs().sum(-1) > 0, keep)


def test_training_keeps_exactly_k_per_row_and_follows_the_warmup(corpus, monkeypatch, tmp_path):
    seen = []
    real = gate.token_keep

    def spy(scores, p16, *, causal=True):
        mask = real(scores, p16, causal=causal)
        seen.append((p16, mask.sum(-1)))
        return mask

    monkeypatch.setattr(gate, "token_keep", spy)
    cfg = tiny(steps=12, permeabilities=(0.25,))
    tr = Trainer(cfg, tmp_path, corpus_data=corpus)
    tr.train()
    assert cfg.warmup_steps == 2  # steps // 6, the seeds' 1000 of 6000
    want = [spec.permeability_q16(1 + (0.25 - 1) * min(s, 2) / 2) for s in range(12)]
    assert tr.hist.p16["B@0.25"] == want and tr.hist.p16["A"] == [65536] * 12
    n = cfg.model.ctx
    gated = {p for p, _ in seen}
    assert gated == {spec.permeability_q16(0.625), spec.permeability_q16(0.25)}
    for p16, counts in seen:
        k = torch.from_numpy(spec.keep_count(spec.n_valid(n, n, True), p16))
        assert torch.equal(counts, k.expand_as(counts))


def test_resume_equals_uninterrupted(corpus, tmp_path):
    cfg = tiny(permeabilities=(0.5, 0.25))
    whole = Trainer(cfg, tmp_path / "whole", corpus_data=corpus)
    whole.train()
    part = Trainer(cfg, tmp_path / "cut", corpus_data=corpus)
    part.train(stop_after=7)          # interrupted after step 7 (a checkpoint was written)
    resumed = Trainer(cfg, tmp_path / "cut", corpus_data=corpus)
    assert resumed.load() and resumed.step == 7
    resumed.train()
    assert resumed.hist.train == whole.hist.train and resumed.hist.held_out == whole.hist.held_out
    for name in whole.names:
        for a, b in zip(whole.models[name].state_dict().values(), resumed.models[name].state_dict().values()):
            assert torch.equal(a, b)


def test_checkpoint_of_another_config_is_refused(corpus, tmp_path):
    Trainer(tiny(steps=5), tmp_path, corpus_data=corpus).train()
    with pytest.raises(TrainError, match="another configuration"):
        Trainer(tiny(steps=6), tmp_path, corpus_data=corpus).load()


def test_integer_evaluation_equals_golden_on_captured_heads(corpus, monkeypatch):
    torch.manual_seed(1)
    model = GPT(SIZES["tiny"])
    floats = {}
    from workloads.abtest import model as model_mod
    real = model_mod.Attention.heads_qkv

    def tap(self, x):
        q, k, v = real(self, x)
        floats[len(floats)] = (q.detach().double().numpy(), k.detach().double().numpy(), v.detach().double().numpy())
        return q, k, v

    monkeypatch.setattr(model_mod.Attention, "heads_qkv", tap)
    x = torch.from_numpy(data.held_out_windows(corpus.held_out, count=2, ctx=32)[0])
    p16 = spec.permeability_q16(0.5)
    hpu = HPUAttention(p16=p16, capture=True)
    with torch.no_grad():
        model(x, p16=p16, hpu=hpu)
    assert len(hpu.captured) == 2 * 2 * 2  # layers x sequences x heads
    d = SIZES["tiny"].head_dim
    for (layer, i, h), (_, o) in hpu.captured.items():
        qf, kf, vf = (t[i, h] for t in floats[layer])
        (qq, sq), (kq, sk), (vq, _) = quantize(qf), quantize(kf), quantize(vf)
        c, r = spec.softmax_multiplier(spec.softmax_alpha(d, sq, sk))  # the model's scale is 1/sqrt(D)
        want = golden.attention(qq, kq, vq, permeability_q16=p16, causal=True, c=c, r=r)
        np.testing.assert_array_equal(o, want)


def test_end_to_end_report(corpus, tmp_path):
    cfg = tiny(steps=8, permeabilities=(0.5,))
    res = run.run(cfg, tmp_path, hpu_windows=2, energy=False, decode=True, budgets=[4, 16], decode_windows=2,
                  sample_tokens=4, corpus_data=corpus)
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved["tokens"] == 8 * 4 * 32
    ev = saved["evaluation"]["runs"]
    assert set(ev) == {"A", "B@0.5"} and ev["B@0.5"]["permeability"] == 0.5
    assert len(ev["B@0.5"]["cosine"]["a_vs_b"]) == SIZES["tiny"].layers
    rows = saved["decode"]["rows"]
    assert [r["budget"] for r in rows] == [4, 16]
    for name in ("report.md", "index.html", "losses.png", "decode.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert "Perplexity vs KV budget" in (tmp_path / "report.md").read_text()
    assert res["decode"]["rows"][1]["full"] == rows[1]["full"]
