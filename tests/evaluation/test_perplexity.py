"""Perplexity of a text (`keras_gpt1.evaluation.perplexity`, `keras-gpt1
perplexity`): its log-likelihood is the harness's `hf` model's rolling one
and its word/byte figures the harness's own metric functions; a smaller
stride gives each token the context Hugging Face's model gives it token by
token; bad input is one line."""

import json
import math

import numpy as np
import pytest
from evaluation_setup import CONTEXT
from evaluation_setup import ROLLING

from keras_gpt1.cli.main import main
from keras_gpt1.evaluation.perplexity import perplexity

# The fixtures (models, tasks), shared by the session.
pytest_plugins = ("evaluation_fixtures",)

TEXT = " ".join(d["text"] for d in ROLLING[1:3])  # several windows


def write_text(tmp_path, text=TEXT, name="text.txt"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_perplexity_is_the_harness_rolling_log_likelihood_and_metrics(
        openai_gpt_model, tmp_path):
    for module in ("lm_eval", "torch", "transformers", "accelerate"):
        pytest.importorskip(module, reason=f"needs the 'eval' and 'reference' extras "
                            f"({module})", exc_type=ImportError)
    from lm_eval.api import metrics
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    result = perplexity(openai_gpt_model["model_dir"], path=write_text(tmp_path))
    hf = HFLM(pretrained=openai_gpt_model["hf_dir"], device="cpu", prefix_token_id=0)
    (expected,) = hf.loglikelihood_rolling(
        [Instance("loglikelihood_rolling", {}, (TEXT,), 0)], disable_tqdm=True)
    assert result["log_likelihood"] == pytest.approx(expected, abs=1e-4)
    assert result["windows"] == math.ceil(result["tokens"] / CONTEXT) >= 3
    words, size = len(TEXT.split()), len(TEXT.encode("utf-8"))
    assert (result["words"], result["bytes"]) == (words, size)
    ll = result["log_likelihood"]
    assert result["word_perplexity"] == pytest.approx(
        metrics.weighted_perplexity([(ll, words)]))
    assert result["byte_perplexity"] == pytest.approx(
        metrics.weighted_perplexity([(ll, size)]))
    assert result["bits_per_byte"] == pytest.approx(metrics.bits_per_byte([(ll, size)]))
    assert result["token_perplexity"] == pytest.approx(math.exp(-ll / result["tokens"]))


def test_stride_1_scores_each_token_on_the_max_length_tokens_before_it(
        openai_gpt_model):
    """The reference: Hugging Face's model run once per token on exactly
    the tokens that token should see."""
    torch = pytest.importorskip("torch", reason="needs the 'reference' extra (torch)",
                                exc_type=ImportError)
    transformers = pytest.importorskip(
        "transformers", reason="needs the 'reference' extra (transformers)",
        exc_type=ImportError)
    lm = openai_gpt_model["lm"]
    text = ROLLING[3]["text"]
    ids = [int(i) for i in np.asarray(lm.tokenizer([text])[0])]
    max_length = 6
    result = perplexity(lm, text=text, max_length=max_length, stride=1)
    assert result["windows"] == len(ids) - max_length + 1
    hf = transformers.OpenAIGPTLMHeadModel.from_pretrained(openai_gpt_model["hf_dir"])
    expected = 0.0
    with torch.no_grad():
        for j, token in enumerate(ids):
            seen = [0] + ids[:j] if j < max_length else ids[j - max_length:j]
            logits = hf(torch.tensor([seen])).logits[0, -1]
            expected += float(torch.log_softmax(logits, -1)[token])
    assert result["log_likelihood"] == pytest.approx(expected, abs=1e-4)
    # More context per token: a different (here lower) perplexity.
    assert result["log_likelihood"] != pytest.approx(
        perplexity(lm, text=text, max_length=max_length)["log_likelihood"], abs=1e-3)


def test_perplexity_command_prints_and_returns_the_figures(byte_level_model, tmp_path,
                                                          capsys):
    """(Of the model's `.keras` file: the same numbers as the model in memory.)"""
    text = write_text(tmp_path)
    assert main(["perplexity", "--model", byte_level_model["keras_file"], "--text", text,
                 "--max-length", "16", "--stride", "8", "--json"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    result = json.loads(out[-1])
    assert result == {**perplexity(byte_level_model["lm"], path=text, max_length=16,
                                   stride=8), "text": text}
    assert result["prefix_token_id"] == byte_level_model["lm"].tokenizer.end_token_id
    assert out[0].startswith(f"{text}: {result['tokens']} tokens, ")
    assert f"word perplexity {result['word_perplexity']:.4f}" in out[1]


@pytest.mark.parametrize("argv, message", [
    pytest.param(["--text", "{missing}"], "text file not found: ", id="missing_text"),
    pytest.param(["--text", "{empty}"], "holds no text", id="empty_text"),
    pytest.param(["--text", "{latin1}"], "is not UTF-8 text (byte 3)",
                 id="invalid_utf8_text"),
    pytest.param(["--text", "{text}", "--stride", "99"],
                 "stride must be in [1, 24]; got 99", id="stride_past_max_length"),
    pytest.param(["--text", "{text}", "--max-length", "99"],
                 "max_length must be in [1, 24] (the model's context); got 99",
                 id="max_length_past_the_context"),
    pytest.param(["--text", "{text}", "--prefix-token-id", "100000"],
                 "prefix_token_id 100000 is out of range", id="prefix_token_out_of_range"),
    pytest.param(["--text", "{text}", "--stride", "0"],
                 "argument --stride: must be >= 1, got 0", id="zero_stride"),
    pytest.param(["--text", "{text}", "--model", "{text}"], "is not a model",
                 id="model_is_a_text"),
])
def test_bad_perplexity_input_exits_2_with_one_line(byte_level_model, tmp_path, capsys,
                                                   argv, message):
    paths = {"missing": str(tmp_path / "missing.txt"), "text": write_text(tmp_path),
             "empty": write_text(tmp_path, " \n", "empty.txt"),
             "latin1": str(tmp_path / "latin1.txt")}
    (tmp_path / "latin1.txt").write_bytes(b"caf\xe9 au lait\n")
    argv = ["perplexity", "--model", byte_level_model["model_dir"],
            *[a.format(**paths) for a in argv]]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("keras-gpt1: error: "), err
    assert message in err, err
