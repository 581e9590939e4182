"""The shipped corpus and text files as corpora: what loads, and one clear error for what does not."""

import pytest

from workloads.corpus import CorpusError, load_sentences


def test_shipped_corpus():
    sentences = load_sentences()
    assert len(sentences) == 300 and len(set(sentences)) == 300
    assert all(s[0].isupper() and s.endswith(".") and 6 <= len(s.split()) <= 28 for s in sentences)
    assert load_sentences(limit=3) == sentences[:3]


def test_text_file_one_sentence_per_line(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("# comment\n  First one.  \n\n\tSecond one.\n", encoding="utf-8")
    assert load_sentences(path) == ["First one.", "Second one."]


@pytest.mark.parametrize("content, limit, message", [
    (None, None, "does not exist"),
    (b"\xff\xfe bad", None, "is not UTF-8 text"),
    (b"# only a comment\n\n", None, "holds no sentences"),
    (b"One.\n", 0, "sentence limit must be at least 1, got 0"),
])
def test_bad_text_files(tmp_path, content, limit, message):
    path = tmp_path / "t.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CorpusError, match=message):
        load_sentences(path, limit=limit)
    with pytest.raises(CorpusError, match="is a directory"):
        load_sentences(tmp_path)


def test_join_passages_greedy_in_order():
    from workloads.corpus import join_passages

    words = lambda text: len(text.split()) + 2  # like a tokenizer with [CLS] and [SEP]
    sentences = ["a b", "c", "d e f", "g", "h i j k l m"]
    # "a b c" counts 5; adding "d e f" would count 8 > 5; "d e f" + "g" would count 6; the last is too long alone.
    assert join_passages(sentences, words, 5) == ["a b c", "d e f", "g", "h i j k l m"]
    assert join_passages(sentences, words, 100) == [" ".join(sentences)]
    assert join_passages(sentences[:1], words, 1) == ["a b"]
    with pytest.raises(CorpusError, match="passage length must be at least 1 token, got 0"):
        join_passages(sentences, words, 0)
