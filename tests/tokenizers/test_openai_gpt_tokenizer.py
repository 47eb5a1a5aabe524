"""`OpenAIGPTTokenizer`: GPT-1's lower-cased `</w>` BPE, in TF ops, with the
ids of Hugging Face's `OpenAIGPTTokenizer` (the reference, needs
transformers >= 5) on a vocabulary the test trains itself."""

import json
import os
import random

import numpy as np
import pytest
import tensorflow as tf

from keras_gpt1 import GPT1InputError
from keras_gpt1.tokenizers import OpenAIGPTTokenizer

WORDS = (
    "the cat sat on a mat and the dog ran after it while language models "
    "predict next tokens from context pre training fine tuning tasks"
).split()
ODD_PIECES = [
    "Café", "naïve", "ÜBER", "señor", "Ærøskøbing", "Straße", "İstanbul",
    "ΣΑΣ", "σας", "Ωμέγα", "Привет", "東京タワー", "中文字", "한국어", "です",
    "😀", "🥰x", "½", "2³", "©2020", "$12.50", "3,141.59", "1e-5", "a+b=c",
    "don't", "«quoted»", "“smart”", "—dash—", "x…y", "@user", "#tag",
    "e-mail", "C++", "<tag>", "[x]", "{y}", "a|b", "~tilde", "`tick`", "^caret",
    "tab\there", "nbsp\u00a0here", "zero\u200bwidth", "soft\u00adhyphen",
    "ideo\u3000space", "line\u2028sep", "ctrl\x07bell", "vt\x0bff\x0c",
    "nul\x00byte", "repl\ufffdchar", "comb\u0301ining", "ﬁ ligature", "Kelvin\u212a",
]
CORPUS = [
    "The cat sat on the mat. The dog sat on the log!",
    "Language models predict the next token; fine-tuning adapts them.",
    "Numbers: 12, 345 and 6789 -- and 3.14, too?",
    "Accents: café, naïve, über, señor (voilà).",
    "Σίσυφος, Ωμέγα and Привет мир; 東京 and 中文.",
] * 20


def varied_lines(count=300, seed=0):
    """Mixed-case words, punctuation, numbers, odd characters, empty lines."""
    rng = random.Random(seed)
    lines = ["", " ", "\n", "\t\n  \r\n", "A.B,C!D?", "...", "UPPER lower MiXeD"]
    while len(lines) < count:
        parts = []
        for _ in range(rng.randint(0, 12)):
            kind = rng.random()
            if kind < 0.55:
                word = rng.choice(WORDS)
                word = rng.choice([word, word.upper(), word.capitalize()])
            elif kind < 0.75:
                word = rng.choice(ODD_PIECES)
            elif kind < 0.9:
                word = rng.choice([".", ",", "!", "?", ";", ":", "'", '"', "(", ")", "-"])
            else:
                word = str(rng.randint(0, 10**rng.randint(1, 6)))
            parts.append(word)
            parts.append(rng.choice([" ", " ", " ", "", "  ", "\n", "\t"]))
        lines.append("".join(parts))
    return lines


@pytest.fixture(scope="module")
def trained_files(tmp_path_factory):
    """`vocab.json` + `merges.txt` of a small `</w>` BPE trained on CORPUS
    with the `tokenizers` library, the way OpenAI's vocabulary is built."""
    from tokenizers import Tokenizer
    from tokenizers import models
    from tokenizers import normalizers
    from tokenizers import pre_tokenizers
    from tokenizers import trainers

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>", end_of_word_suffix="</w>"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<unk>"], end_of_word_suffix="</w>",
        show_progress=False,
    )
    tokenizer.train_from_iterator(CORPUS, trainer)
    directory = tmp_path_factory.mktemp("bpe")
    tokenizer.model.save(str(directory))
    return str(directory)


@pytest.fixture(scope="module")
def tokenizer(trained_files):
    return OpenAIGPTTokenizer.from_directory(trained_files)


def test_ids_equal_hugging_face_openai_gpt_tokenizer_on_varied_lines(trained_files, tokenizer):
    transformers = pytest.importorskip(
        "transformers", minversion="5.0", reason="needs the 'reference' extra",
        exc_type=ImportError,
    )
    reference = transformers.OpenAIGPTTokenizer.from_pretrained(trained_files)
    lines = varied_lines()
    expected = reference(lines)["input_ids"]
    got = tokenizer(lines).to_list()
    mismatches = [(line, g, e) for line, g, e in zip(lines, got, expected) if g != e]
    assert not mismatches, mismatches[:3]
    assert sum(map(len, expected)) > 1000
    assert any(tokenizer.unknown_token_id in row for row in got)


def test_hand_written_merges_apply_by_rank_with_the_end_of_word_suffix(tmp_path):
    vocab = {"<unk>": 0}
    for c in "abht":
        vocab[c], vocab[c + "</w>"] = len(vocab), len(vocab) + 1
    merges = ["t h", "th e</w>", "a b", "ab a</w>", "b a</w>"]
    for merge in merges:
        vocab.setdefault(merge.replace(" ", ""), len(vocab))
    vocab["e</w>"] = len(vocab)
    tokenizer = OpenAIGPTTokenizer(vocabulary=vocab, merges=merges)
    pieces = [[tokenizer.id_to_token(i) for i in row]
              for row in tokenizer(["The", "aba", "ba", "abb", "x", "tHe!"]).to_list()]
    assert pieces == [
        ["the</w>"], ["aba</w>"], ["ba</w>"], ["ab", "b</w>"], ["<unk>"],
        ["the</w>", "<unk>"],
    ]


def test_special_tokens_are_appended_after_the_bpe_ids_as_in_the_original_code(tokenizer):
    size = len(tokenizer.vocabulary) - 3
    assert (tokenizer.start_token_id, tokenizer.delimiter_token_id,
            tokenizer.extract_token_id) == (size, size + 1, size + 2)
    assert tokenizer.vocabulary_size() == size + 3
    assert tokenizer.end_token_id == tokenizer.extract_token_id
    assert tokenizer.pad_token_id == tokenizer.token_to_id("<unk>") == 0
    assert tokenizer.id_to_token(size) == "_start_"
    # Text never tokenizes to a special token: `_` is punctuation.
    assert size not in tokenizer(["_start_"]).to_list()[0]


def test_graph_mode_and_tf_data_give_the_eager_ids(tokenizer):
    lines = varied_lines(40, seed=1)
    eager = tokenizer(lines).to_list()
    graph = tf.function(lambda x: tokenizer(x))(tf.constant(lines)).to_list()
    batches = tf.data.Dataset.from_tensor_slices(lines).batch(7).map(tokenizer)
    data = [row for batch in batches for row in batch.to_list()]
    assert eager == graph == data


def test_scalar_input_dense_sequence_length_and_detokenize(trained_files):
    tokenizer = OpenAIGPTTokenizer.from_directory(trained_files, sequence_length=6)
    ids = np.asarray(tokenizer(["The cat sat.", ""]))
    assert ids.shape == (2, 6) and (ids[1] == tokenizer.pad_token_id).all()
    single = np.asarray(OpenAIGPTTokenizer.from_directory(trained_files)("The cat sat."))
    assert single.ndim == 1 and list(single) == [i for i in ids[0] if i]
    text = OpenAIGPTTokenizer.from_directory(trained_files).detokenize([list(single)])
    assert [t.decode() for t in np.asarray(text)] == ["the cat sat ."]


def test_vocabulary_travels_inside_the_keras_file(tokenizer, tmp_path):
    from keras_gpt1 import GPT1Backbone
    from keras_gpt1 import GPT1CausalLM
    from keras_gpt1 import artifacts

    backbone = GPT1Backbone(vocabulary_size=tokenizer.vocabulary_size(), num_layers=1,
                            num_heads=2, hidden_dim=8, intermediate_dim=16,
                            max_sequence_length=8)
    model = GPT1CausalLM(backbone, tokenizer=tokenizer)
    artifacts.save_model_file(model, str(tmp_path / "model.keras"))
    loaded = artifacts.load_model(str(tmp_path))  # safe_mode on
    assert type(loaded.tokenizer) is OpenAIGPTTokenizer
    lines = varied_lines(30, seed=2)
    assert loaded.tokenizer(lines).to_list() == tokenizer(lines).to_list()
    assert loaded.tokenizer.vocabulary == tokenizer.vocabulary


def test_bad_tokenizer_files_are_one_line_input_errors(tmp_path):
    (tmp_path / "vocab.json").write_text(json.dumps({"a": 0, "b": 1}))
    (tmp_path / "merges.txt").write_text("#version: 0.2\na b\n")
    with pytest.raises(GPT1InputError, match="needs 'ab', which is not in the vocabulary"):
        OpenAIGPTTokenizer.from_directory(str(tmp_path))
    (tmp_path / "merges.txt").write_text("a b c\n")
    with pytest.raises(GPT1InputError, match="line 1: expected two symbols"):
        OpenAIGPTTokenizer.from_directory(str(tmp_path))
    (tmp_path / "vocab.json").write_text("{not json")
    with pytest.raises(GPT1InputError, match="not valid JSON"):
        OpenAIGPTTokenizer.from_directory(str(tmp_path))
    os.remove(tmp_path / "merges.txt")
    with pytest.raises(GPT1InputError, match="no tokenizer files"):
        OpenAIGPTTokenizer.from_directory(str(tmp_path))
