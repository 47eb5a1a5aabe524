import pytest
import tensorflow as tf

from keras_gpt1 import GPT1InputError
from keras_gpt1.tokenizers import GPT1Tokenizer
from keras_gpt1.tokenizers import train_bpe
from keras_gpt1.tokenizers.gpt1_tokenizer import SPECIAL_TOKENS

TEXTS = [
    "The cat sat on the mat.",
    "Accents: café, naïve; numbers 12 345!\n\ttabs  and   spaces ",
    "<|start|>premise<|delimiter|>hypothesis<|extract|>",
    "",
    " leading space, trailing newline\n",
    "中文 and emoji 🙂 bytes",
]


_GRAPHS = {}


def _ids(tokenizer, texts):
    """Ids from the in-graph (tf.function) path, as lists."""
    if id(tokenizer) not in _GRAPHS:
        _GRAPHS[id(tokenizer)] = (tokenizer, tf.function(lambda x: tokenizer(x)))
    return _GRAPHS[id(tokenizer)][1](tf.constant(texts)).to_list()


def test_special_tokens_are_single_ids(tokenizer):
    for name in ("pad", "end", "start", "delimiter", "extract"):
        token = getattr(tokenizer, f"{name}_token")
        token_id = getattr(tokenizer, f"{name}_token_id")
        assert _ids(tokenizer, [token]) == [[token_id]]
    assert tokenizer.pad_token_id == 0
    assert len({tokenizer.token_to_id(t) for t in SPECIAL_TOKENS}) == len(SPECIAL_TOKENS)


def test_special_tokens_are_not_split_inside_text(tokenizer):
    ids = _ids(tokenizer, [TEXTS[2]])[0]
    assert ids[0] == tokenizer.start_token_id and ids[-1] == tokenizer.extract_token_id
    assert tokenizer.delimiter_token_id in ids


def test_train_save_load_gives_the_same_ids(tokenizer, tmp_path):
    tokenizer.save_to_directory(str(tmp_path))
    loaded = GPT1Tokenizer.from_directory(str(tmp_path))
    assert _ids(loaded, TEXTS) == _ids(tokenizer, TEXTS)


def test_detokenize_inverts_tokenize_byte_for_byte(tokenizer):
    for text in TEXTS:
        ids = _ids(tokenizer, [text])
        back = tokenizer.detokenize(tf.ragged.constant(ids, dtype="int32"))
        back = back.numpy()[0].decode() if hasattr(back, "numpy") else back[0]
        assert back == text


def test_eager_and_in_graph_ids_agree(tokenizer):
    eager = [list(map(int, r)) for r in tokenizer(TEXTS)]
    assert eager == _ids(tokenizer, TEXTS)


def test_ids_match_hugging_face_tokenizers_on_the_same_vocabulary(tokenizer, corpus_file):
    # Independent implementation of byte-level BPE with the same files.
    from tokenizers import Tokenizer
    from tokenizers import models
    from tokenizers import pre_tokenizers

    merges = [tuple(m.split(" ")) for m in tokenizer.merges]
    hf = Tokenizer(models.BPE(vocab=dict(tokenizer.vocabulary), merges=merges))
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    hf.add_special_tokens(list(SPECIAL_TOKENS))
    with open(corpus_file, encoding="utf-8") as f:
        lines = f.read().splitlines()[:200] + TEXTS
    assert _ids(tokenizer, lines) == [e.ids for e in hf.encode_batch(lines)]


def test_vocabulary_size_is_respected(corpus_file):
    assert train_bpe([corpus_file], vocabulary_size=300).vocabulary_size() == 300


@pytest.mark.parametrize(
    "content,message",
    [(b"", "corpus is empty"), (b"  \n\n", "corpus is empty"), (b"ok\xff\xfe", "not valid UTF-8 at byte 2")],
)
def test_bad_corpus_files_are_clear_errors(tmp_path, content, message):
    path = tmp_path / "c.txt"
    path.write_bytes(content)
    with pytest.raises(GPT1InputError, match=message):
        train_bpe([str(path)], 300)


def test_missing_corpus_file_and_tiny_vocabulary_are_clear_errors(corpus_file, tmp_path):
    with pytest.raises(GPT1InputError, match="corpus file not found"):
        train_bpe([str(tmp_path / "nope.txt")], 300)
    with pytest.raises(GPT1InputError, match="below the minimum of 261"):
        train_bpe([corpus_file], 100)


def test_missing_special_tokens_in_vocabulary_file_is_a_clear_error(tmp_path):
    (tmp_path / "vocabulary.json").write_text('{"a": 0, "b": 1, "ab": 2}')
    (tmp_path / "merges.txt").write_text("a b\n")
    with pytest.raises(GPT1InputError, match="lacks the special tokens"):
        GPT1Tokenizer.from_directory(str(tmp_path))


def test_the_path_without_tensorflow_gives_the_in_graph_ids_and_text(tokenizer):
    """Where TensorFlow Text is not installed, `GPT1Tokenizer` runs
    keras-hub's Python path (Hugging Face `tokenizers`): the same ids as the
    TF ops on whitespace-heavy, accented, CJK, emoji and special-token text,
    and the same text back, incomplete UTF-8 at a cut dropped as the TF path
    drops it (not turned into U+FFFD)."""
    from keras_gpt1.token_ids import detokenize_text

    python = GPT1Tokenizer(vocabulary=dict(tokenizer.vocabulary),
                           merges=list(tokenizer.merges))
    python._allow_python_workflow = True  # as without TensorFlow Text
    texts = TEXTS + ["a\n\n b", " \u00a0x\u3000y", "\u2028's \u0085's", "tab\t\tand\r\nCRLF",
                     "x" * 300]
    expected = _ids(tokenizer, texts)
    assert [list(r) for r in python(texts)] == expected
    emoji = _ids(tokenizer, ["🙂"])[0]
    assert len(emoji) > 1
    for ids in expected + [emoji[:-1]]:  # the last: a cut inside the emoji
        assert detokenize_text(python, ids) == detokenize_text(tokenizer, ids)
