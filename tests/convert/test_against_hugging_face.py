"""A converted GPT-1 computes what Hugging Face's PyTorch
`OpenAIGPTLMHeadModel` computes (the independent reference; needs the
`reference` extra: transformers and torch)."""

import numpy as np
import pytest
from gpt1_checkpoint_files import TINY
from gpt1_checkpoint_files import tiny_vocabulary_size
from gpt1_checkpoint_files import write_openai_release
from gpt1_checkpoint_files import write_tokenizer_files

from keras_gpt1.convert import load_checkpoint

torch = pytest.importorskip(
    "torch", reason="needs the 'reference' extra (torch)", exc_type=ImportError
)
transformers = pytest.importorskip(
    "transformers", reason="needs the 'reference' extra (transformers)",
    exc_type=ImportError,
)


@pytest.fixture(scope="module")
def hf_model():
    """A tiny random `OpenAIGPTLMHeadModel`, every tensor perturbed."""
    torch.manual_seed(0)
    config = transformers.OpenAIGPTConfig(
        vocab_size=tiny_vocabulary_size(), **TINY, afn="gelu"
    )
    model = transformers.OpenAIGPTLMHeadModel(config)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            base = 1.0 if name.endswith(("ln_1.weight", "ln_2.weight")) else 0.0
            parameter.copy_(base + 0.2 * torch.randn_like(parameter))
    return model.eval()


def hf_logits(model, ids):
    with torch.no_grad():
        return model(torch.tensor(ids, dtype=torch.long)).logits.numpy()


def test_logits_equal_hugging_face_openai_gpt_lm_head_model(tmp_path, hf_model):
    hf_model.save_pretrained(tmp_path, safe_serialization=True)
    write_tokenizer_files(tmp_path)
    model = load_checkpoint(str(tmp_path), "huggingface")
    ids = np.random.default_rng(0).integers(
        0, tiny_vocabulary_size(), (3, TINY["n_positions"])
    ).astype("int32")
    np.testing.assert_allclose(
        np.asarray(model(ids)), hf_logits(hf_model, ids), atol=1e-4, rtol=0
    )


def test_hugging_face_weights_in_the_original_layout_convert_to_the_same_model(
    tmp_path, hf_model
):
    state = {k: v.numpy() for k, v in hf_model.state_dict().items()
             if k.startswith("transformer.")}
    source = write_openai_release(tmp_path, state, TINY["n_layer"])
    model = load_checkpoint(source, "openai", num_heads=TINY["n_head"])
    ids = np.random.default_rng(1).integers(
        0, tiny_vocabulary_size(), (2, TINY["n_positions"])
    ).astype("int32")
    np.testing.assert_allclose(
        np.asarray(model(ids)), hf_logits(hf_model, ids), atol=1e-4, rtol=0
    )
    np.testing.assert_array_equal(
        np.asarray(model.backbone.transformer_layers[1].c_fc.kernel),
        state["transformer.h.1.mlp.c_fc.weight"],
    )
