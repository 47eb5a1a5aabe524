import numpy as np
import pytest
from conftest import TINY_CONFIG

from keras_gpt1 import GPT1Backbone
from keras_gpt1 import GPT1CausalLM
from keras_gpt1 import GPT1InputError
from keras_gpt1 import plots


def _is_png(path):
    with open(path, "rb") as f:
        return f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_attention_maps_are_the_models_own_masked_softmax(tiny_backbone):
    lm = GPT1CausalLM(tiny_backbone)
    ids = np.arange(1, 9)
    maps = plots.attention_maps(lm, ids, layer=1, head=1)
    n = len(ids)
    assert maps["weights"].shape == (n, n)
    np.testing.assert_allclose(maps["weights"].sum(-1), 1.0, atol=1e-5)
    upper = np.triu_indices(n, 1)
    assert np.all(np.isneginf(maps["masked"][upper])) and np.all(maps["weights"][upper] == 0)
    lower = np.tril_indices(n)
    np.testing.assert_array_equal(maps["masked"][lower], maps["scores"][lower])
    # Same weights as a softmax over the unmasked prefix of each row.
    row = maps["scores"][4, :5]
    np.testing.assert_allclose(maps["weights"][4, :5], np.exp(row) / np.exp(row).sum(), atol=1e-5)


def test_attention_maps_reject_bad_layer_and_head(tiny_backbone):
    lm = GPT1CausalLM(tiny_backbone)
    with pytest.raises(GPT1InputError, match="layer 2 out of range"):
        plots.attention_maps(lm, [1, 2], layer=TINY_CONFIG["num_layers"], head=0)
    with pytest.raises(GPT1InputError, match="head -1 out of range"):
        plots.attention_maps(lm, [1, 2], layer=0, head=-1)


def test_attention_and_history_pictures_are_pngs(tmp_path, tokenizer):
    backbone = GPT1Backbone(**{**TINY_CONFIG, "vocabulary_size": tokenizer.vocabulary_size()})
    lm = GPT1CausalLM(backbone, tokenizer=tokenizer)
    ids = [int(i) for i in tokenizer(["The cat sat on the mat."])[0]]
    labels = plots.token_labels(tokenizer, ids)
    assert "".join(labels) == "The cat sat on the mat."
    out = plots.plot_attention(plots.attention_maps(lm, ids, 0, 0), labels, str(tmp_path / "a.png"), 0, 0)
    assert _is_png(out)
    history = tmp_path / "history.csv"
    history.write_text("epoch,loss,step,val_loss\n0,5.0,10,4.5\n1,4.0,20,3.9\n")
    assert _is_png(plots.plot_history(str(history), str(tmp_path / "loss.png")))


def test_missing_or_empty_history_is_a_clear_error(tmp_path):
    with pytest.raises(GPT1InputError, match="training history not found"):
        plots.plot_history(str(tmp_path / "none.csv"), str(tmp_path / "x.png"))
    (tmp_path / "h.csv").write_text("epoch,loss\n")
    with pytest.raises(GPT1InputError, match="training history is empty"):
        plots.plot_history(str(tmp_path / "h.csv"), str(tmp_path / "x.png"))
