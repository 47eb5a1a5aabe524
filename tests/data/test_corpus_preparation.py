"""`prepare-corpus`: text tokenized once into shards whose ids equal the
in-graph tokenizer's; a held-out split of whole documents; atomic and
resumable; parts prepared apart combine into the same corpus."""

import json
import os

import numpy as np
import pytest
from conftest import write_corpus

from keras_gpt1 import GPT1InputError
from keras_gpt1.data import corpus_preparation
from keras_gpt1.data.corpus_preparation import PrepareConfig
from keras_gpt1.data.corpus_preparation import combine_prepared
from keras_gpt1.data.corpus_preparation import prepare_corpus
from keras_gpt1.data.corpus_preparation import read_documents
from keras_gpt1.data.prepared_corpus import INDEX_FILE
from keras_gpt1.data.prepared_corpus import TRAIN
from keras_gpt1.data.prepared_corpus import VALIDATION
from keras_gpt1.data.prepared_corpus import PreparedCorpus
from keras_gpt1.data.prepared_corpus import shard_paths
from keras_gpt1.token_ids import token_id_lists


def _prepare(inputs, output, **kwargs):
    kwargs.setdefault("vocab_size", 400)
    kwargs.setdefault("workers", 1)
    return prepare_corpus(PrepareConfig([str(p) for p in inputs], str(output),
                                        verbose=0, **kwargs))


def _documents_by_line(corpus, split):
    """{(shard, first source line): token ids} of one split."""
    out = {}
    stream = corpus.stream(split)
    position = 0
    for shard in corpus.index["splits"][split]["shards"]:
        documents = corpus.documents(split, shard["name"])
        ends = list(documents[1:, 0]) + [shard["tokens"]]
        for (start, line), end in zip(documents, ends, strict=True):
            out[(shard["name"], int(line))] = stream.read(position + int(start),
                                                          int(end - start))
        position += shard["tokens"]
    return out


def _assert_ids_equal_in_graph(corpus, paths, tokenizer):
    """Every document of every split holds the in-graph tokenizer's ids of
    its lines (each with its newline), and every document is somewhere."""
    prepared = {**_documents_by_line(corpus, TRAIN), **_documents_by_line(corpus, VALIDATION)}
    documents = [(f"part-{i:05d}", first, lines) for i, path in enumerate(paths)
                 for first, lines in read_documents(path)]
    # One in-graph call for every line (a call per document takes minutes).
    line_ids = token_id_lists(tokenizer, [line + "\n" for _, _, lines in documents
                                          for line in lines])
    k = 0
    for shard, first, lines in documents:
        expected = np.asarray([i for ids in line_ids[k:k + len(lines)] for i in ids], "int32")
        k += len(lines)
        np.testing.assert_array_equal(prepared[(shard, first)], expected,
                                      err_msg=f"{shard} line {first}")
    assert len(documents) == len(prepared)


def test_prepared_ids_equal_the_in_graph_tokenizer_on_the_demo_corpus(tmp_path):
    """The README's demo corpus (Python's bundled documentation): every
    document's ids equal `GPT1Tokenizer`'s, over 2 processes."""
    from keras_gpt1.demo import demo_corpus_text

    text = demo_corpus_text()[:300_000]
    corpus_path = tmp_path / "corpus.txt"
    corpus_path.write_text(text, encoding="utf-8")
    summary = _prepare([corpus_path], tmp_path / "prepared", vocab_size=2000, workers=2)
    corpus = PreparedCorpus(tmp_path / "prepared")
    assert summary["validation_documents"] >= 1 and summary["train_documents"] > 100
    _assert_ids_equal_in_graph(corpus, [str(corpus_path)], corpus.load_tokenizer())


def test_original_gpt1_tokenizer_prepares_the_same_ids_as_in_graph(tmp_path):
    """GPT-1's lower-cased `</w>` BPE (a hand-made vocabulary in its files)."""
    from convert.gpt1_checkpoint_files import write_tokenizer_files

    from keras_gpt1.tokenizers import OpenAIGPTTokenizer

    tokenizer_dir = tmp_path / "gpt1_tokenizer"
    tokenizer_dir.mkdir()
    write_tokenizer_files(tokenizer_dir)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("The cat sat.\nA dog!\n\nThe Dog sat on the cat.\n\nnew text\n" * 20)
    _prepare([corpus], tmp_path / "prepared", tokenizer=str(tokenizer_dir))
    prepared = PreparedCorpus(tmp_path / "prepared")
    assert prepared.tokenizer_class == "OpenAIGPTTokenizer"
    _assert_ids_equal_in_graph(prepared, [str(corpus)],
                               OpenAIGPTTokenizer.from_directory(str(tokenizer_dir)))


def test_documents_end_at_blank_lines_and_validation_takes_whole_documents(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("\nfirst doc\nstill first\n\n\nsecond\n\nthird\nx")
    documents = list(read_documents(str(path)))
    assert documents == [(0, ["", "first doc", "still first", "", ""]),
                         (5, ["second", ""]), (7, ["third", "x"])]
    corpus_file = write_corpus(tmp_path / "corpus.txt")
    _prepare([corpus_file], tmp_path / "p", validation_fraction=0.2, seed=1)
    corpus = PreparedCorpus(tmp_path / "p")
    index = corpus.index
    total = index["splits"][TRAIN]["documents"] + index["splits"][VALIDATION]["documents"]
    assert total == len(list(read_documents(corpus_file))) == 40
    assert 3 <= index["splits"][VALIDATION]["documents"] <= 16  # about a fifth
    lines = corpus.documents(VALIDATION, "part-00000")[:, 1]
    assert lines.max() - lines.min() > 100  # sampled across the file, not its start


def test_a_small_file_holds_out_at_least_one_document(tmp_path):
    corpus = write_corpus(tmp_path / "corpus.txt", repeat=3)
    summary = _prepare([corpus], tmp_path / "p", validation_fraction=0.001)
    assert summary["validation_documents"] == 1 and summary["train_documents"] == 2


def test_killed_preparation_resumes_and_equals_a_straight_one(tmp_path, monkeypatch):
    files = [write_corpus(tmp_path / f"c{i}.txt", repeat=5 + i) for i in range(3)]
    _prepare(files, tmp_path / "straight")
    original = corpus_preparation.prepare_file
    done = []

    def crash_on_the_third_file(path, *args, **kwargs):
        if len(done) == 2:
            raise KeyboardInterrupt  # stands in for a kill mid-file
        done.append(path)
        return original(path, *args, **kwargs)

    monkeypatch.setattr(corpus_preparation, "prepare_file", crash_on_the_third_file)
    with pytest.raises(KeyboardInterrupt):
        _prepare(files, tmp_path / "resumed")
    assert not (tmp_path / "resumed").exists()
    assert (tmp_path / "resumed.partial").is_dir()
    monkeypatch.setattr(corpus_preparation, "prepare_file",
                        lambda path, *a, **k: done.append(path) or original(path, *a, **k))
    _prepare(files, tmp_path / "resumed")
    assert done[2:] == [files[2]]  # the rerun did only the file left
    assert not (tmp_path / "resumed.partial").exists()
    with open(tmp_path / "straight" / INDEX_FILE) as a, \
            open(tmp_path / "resumed" / INDEX_FILE) as b:
        assert json.load(a) == json.load(b)


def test_parts_prepared_apart_combine_into_the_one_shot_corpus(tmp_path):
    files = [write_corpus(tmp_path / f"c{i}.txt", repeat=4 + i) for i in range(3)]
    _prepare(files, tmp_path / "whole")
    whole = PreparedCorpus(tmp_path / "whole")
    tokenizer_dir = whole.tokenizer_directory()
    _prepare(files[:2], tmp_path / "a", tokenizer=tokenizer_dir)
    _prepare(files[2:], tmp_path / "b", tokenizer=tokenizer_dir)
    combine_prepared([str(tmp_path / "a"), str(tmp_path / "b")], str(tmp_path / "ab"))
    combined = PreparedCorpus(tmp_path / "ab")
    combined.verify()
    for split in (TRAIN, VALIDATION):
        a, b = whole.stream(split), combined.stream(split)
        np.testing.assert_array_equal(a.read(0, len(a)), b.read(0, len(b)))
    other = tmp_path / "other"
    _prepare(files[:1], other, vocab_size=350)
    with pytest.raises(GPT1InputError, match="prepared with another tokenizer"):
        combine_prepared([str(tmp_path / "a"), str(other)], str(tmp_path / "bad"))
    assert not (tmp_path / "bad").exists()


def test_damaged_corpora_are_refused_with_one_line(tmp_path):
    corpus = write_corpus(tmp_path / "corpus.txt")
    _prepare([corpus], tmp_path / "p")
    tokens, _ = shard_paths(str(tmp_path / "p"), TRAIN, "part-00000")
    data = bytearray(open(tokens, "rb").read())
    data[10] ^= 0xFF
    with open(tokens, "wb") as f:
        f.write(data)
    with pytest.raises(GPT1InputError, match="is damaged: its sha256 differs"):
        PreparedCorpus(tmp_path / "p").verify()
    with open(tokens, "wb") as f:
        f.write(data[:-3])
    with pytest.raises(GPT1InputError, match="truncated or replaced"):
        PreparedCorpus(tmp_path / "p")
    with pytest.raises(GPT1InputError, match="is not a prepared corpus"):
        PreparedCorpus(tmp_path)
    with pytest.raises(GPT1InputError, match="prepared corpus not found"):
        PreparedCorpus(tmp_path / "none")


def test_fingerprint_mismatch_is_refused(tmp_path, tokenizer):
    corpus = write_corpus(tmp_path / "corpus.txt")
    _prepare([corpus], tmp_path / "p", vocab_size=350)
    with pytest.raises(GPT1InputError, match="prepared with another tokenizer"):
        PreparedCorpus(tmp_path / "p").check_tokenizer(tokenizer)
    vocabulary = tmp_path / "p" / "tokenizer" / "vocabulary.json"
    words = json.loads(vocabulary.read_text())
    words["zzz"] = len(words) + 1000
    vocabulary.write_text(json.dumps(words))
    with pytest.raises(GPT1InputError, match="does not match the fingerprint"):
        PreparedCorpus(tmp_path / "p").load_tokenizer()


@pytest.mark.parametrize("content, message", [
    ("", "corpus is empty"),
    ("   \n\n", "corpus is empty"),
    ("one document only, no blank line\n", "too small to hold out a validation document"),
])
def test_unusable_corpora_are_refused_before_anything_is_written(tmp_path, content,
                                                                  message):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(content)
    with pytest.raises(GPT1InputError, match=message):
        _prepare([corpus], tmp_path / "p", tokenizer=None if content.strip() else None)
    assert sorted(os.listdir(tmp_path)) == ["corpus.txt"]
