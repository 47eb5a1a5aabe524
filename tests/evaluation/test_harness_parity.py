"""The `keras-gpt1` model of lm-evaluation-harness against the harness's
own Hugging Face model (`hf`) on the same weights, exported with
`keras-gpt1 export --format transformers`: per-request log-likelihoods
within 1e-4 and equal task metrics, on a multiple-choice task (contexts
past the 24-token context: left truncation) and a rolling-perplexity task
(texts of several windows); then generation and the model's other inputs.

Needs the 'eval' extra (lm-eval) and the 'reference' one (transformers,
torch; the `hf` model also imports accelerate)."""

import math

import numpy as np
import pytest
from evaluation_setup import CONTEXT
from evaluation_setup import MC_TASK
from evaluation_setup import MULTIPLE_CHOICE
from evaluation_setup import ROLLING
from evaluation_setup import ROLLING_TASK

for module, extra in (("lm_eval", "eval"), ("torch", "reference"),
                      ("transformers", "reference"), ("accelerate", "eval")):
    pytest.importorskip(module, reason=f"needs the '{extra}' extra ({module})",
                        exc_type=ImportError)

import lm_eval  # noqa: E402
from lm_eval.api.instance import Instance  # noqa: E402

from keras_gpt1.evaluation.lm_eval_model import KerasGPT1LM  # noqa: E402

# The fixtures (models, tasks), shared by the session.
pytest_plugins = ("evaluation_fixtures",)

TASKS = [MC_TASK, ROLLING_TASK]
ATOL = 1e-4


def run(model, task_manager, model_args=None):
    return lm_eval.simple_evaluate(
        model=model, model_args=model_args, tasks=TASKS, task_manager=task_manager,
        batch_size=4, log_samples=True, bootstrap_iters=0)


@pytest.fixture(scope="module")
def byte_level_runs(byte_level_model, task_manager):
    """(hf, keras-gpt1) results; the harness's `hf` model picks the
    exported EOS `<|endoftext|>` as its prefix, ours by default too. Ours
    by the registered name, as `--model keras-gpt1` would."""
    hf = run("hf", task_manager, f"pretrained={byte_level_model['hf_dir']},device=cpu")
    ours = run("keras-gpt1", task_manager, f"model={byte_level_model['model_dir']}")
    return hf, ours


@pytest.fixture(scope="module")
def openai_gpt_runs(openai_gpt_model, task_manager):
    """The same with GPT-1's tokenizer: the `hf` model needs
    `prefix_token_id=0` (`<unk>`), ours' default. Ours as an instance."""
    hf = run("hf", task_manager,
             f"pretrained={openai_gpt_model['hf_dir']},device=cpu,prefix_token_id=0")
    ours = run(KerasGPT1LM(model=openai_gpt_model["model_dir"], batch_size=4),
               task_manager)
    return hf, ours


RUNS = ["byte_level_runs", "openai_gpt_runs"]


def responses(result, task):
    """`[(log-likelihood, is_greedy or None), ...]` of every request."""
    out = []
    for sample in sorted(result["samples"][task], key=lambda s: s["doc_id"]):
        for response in sample["resps"]:
            value = response[0]
            out.append(tuple(value) if isinstance(value, tuple) else (value, None))
    return out


@pytest.mark.parametrize("runs", RUNS)
@pytest.mark.parametrize("task", TASKS)
def test_per_request_log_likelihoods_equal_the_hf_models(runs, task, request):
    hf, ours = request.getfixturevalue(runs)
    expected, got = responses(hf, task), responses(ours, task)
    assert len(got) == len(expected) == (
        sum(len(d["choices"]) for d in MULTIPLE_CHOICE) if task == MC_TASK else len(ROLLING))
    np.testing.assert_allclose([g[0] for g in got], [e[0] for e in expected],
                               atol=ATOL, rtol=0)
    assert [g[1] for g in got] == [e[1] for e in expected]  # is_greedy


@pytest.mark.parametrize("runs", RUNS)
def test_task_metrics_equal_the_hf_models(runs, request):
    hf, ours = request.getfixturevalue(runs)
    for task in TASKS:
        metrics = {k: v for k, v in hf["results"][task].items()
                   if k.endswith(",none") and isinstance(v, float)}
        assert set(metrics) >= ({"acc,none", "acc_norm,none"} if task == MC_TASK else
                                {"word_perplexity,none", "byte_perplexity,none",
                                 "bits_per_byte,none"})
        for key, value in metrics.items():
            assert ours["results"][task][key] == pytest.approx(value, rel=1e-5), key


@pytest.mark.parametrize("model", ["byte_level_model", "openai_gpt_model"])
def test_the_tasks_reach_past_the_context(model, request):
    """What the parity covers: multiple-choice requests longer than the
    context (left truncation), texts of three windows and more, each
    ending in a partly full window."""
    from keras_gpt1.token_ids import token_id_lists

    tokenizer = request.getfixturevalue(model)["lm"].tokenizer
    requests = [d["question"] + " " + c for d in MULTIPLE_CHOICE for c in d["choices"]]
    assert max(map(len, token_id_lists(tokenizer, requests))) > 2 * CONTEXT
    lengths = [len(ids) for ids in token_id_lists(tokenizer, [d["text"] for d in ROLLING])]
    assert max(lengths) > 3 * CONTEXT
    assert all(n % CONTEXT for n in lengths)


def hf_model(directory, **kwargs):
    from lm_eval.models.huggingface import HFLM

    return HFLM(pretrained=directory, device="cpu", **kwargs)


def instances(kind, argument_tuples):
    return [Instance(kind, {}, args, i) for i, args in enumerate(argument_tuples)]


def test_empty_context_and_trailing_spaces_equal_the_hf_models(byte_level_model):
    """The harness's tokenization rules: an empty context becomes the
    prefix token, a context's trailing spaces move to the continuation."""
    requests = instances("loglikelihood", [
        ("", "the cat sat."), ("the cat sat on the ", "mat."), ("the cat ", " sat"),
        ("a dog ran in the park, and the cat hid under the bed and the dog", " sat.")])
    hf = hf_model(byte_level_model["hf_dir"], batch_size=2)
    expected = hf.loglikelihood(requests, disable_tqdm=True)
    got = KerasGPT1LM(model=byte_level_model["model_dir"]).loglikelihood(
        requests, disable_tqdm=True)
    np.testing.assert_allclose([g[0] for g in got], [e[0] for e in expected], atol=ATOL)


def test_a_model_directory_preset_and_hf_directory_give_the_same_numbers(
        openai_gpt_model):
    loglikelihood = instances("loglikelihood", [
        (d["question"], " " + c) for d in MULTIPLE_CHOICE for c in d["choices"]])
    rolling = instances("loglikelihood_rolling", [(d["text"],) for d in ROLLING])
    numbers = {}
    for form in ("model_dir", "preset_dir", "hf_dir"):
        lm = KerasGPT1LM(model=openai_gpt_model[form], batch_size=3)
        numbers[form] = [ll for ll, _ in lm.loglikelihood(loglikelihood, disable_tqdm=True)]
        numbers[form] += lm.loglikelihood_rolling(rolling, disable_tqdm=True)
    for form, values in numbers.items():
        np.testing.assert_allclose(values, numbers["model_dir"], atol=1e-5, err_msg=form)
    assert all(math.isfinite(v) and v < 0 for v in numbers["model_dir"])


GENERATE_CONTEXTS = ["the cat sat on the", "a dog ran in the park, and",
                     " ".join(ROLLING[2]["text"].split()[:40])]  # past the context


def generate(lm, contexts, until, max_gen_toks):
    return lm.generate_until(instances("generate_until", [
        (c, {"until": until, "max_gen_toks": max_gen_toks, "do_sample": False})
        for c in contexts]), disable_tqdm=True)


@pytest.fixture(scope="module")
def generation_models(byte_level_model):
    # The hf model one row at a time: it left-pads a batch, and GPT-1's
    # positions in transformers do not skip padding.
    ours = KerasGPT1LM(model=byte_level_model["model_dir"], batch_size=2)
    ours.lm.jit_compile_generate = False  # the same loop; compiles faster here
    return hf_model(byte_level_model["hf_dir"], batch_size=1), ours


def test_generate_until_stops_at_max_gen_toks_as_the_hf_model(generation_models):
    from keras_gpt1.evaluation.text_generation import text_decoder

    hf, ours = generation_models
    decode = text_decoder(ours.tokenizer)
    for max_gen_toks in (2, 12):
        got = generate(ours, GENERATE_CONTEXTS, ["never in the text"], max_gen_toks)
        assert got == generate(hf, GENERATE_CONTEXTS, ["never in the text"], max_gen_toks)
        for context, text in zip(GENERATE_CONTEXTS, got):  # the model's own generate
            prompt = ours.tok_encode(context)[-(CONTEXT - max_gen_toks):]
            ids = ours.lm.generate([np.array(prompt)], max_new_tokens=max_gen_toks,
                                   strip_prompt=True)[0]
            assert text == decode(ids)


def test_generate_until_stops_at_each_stop_string_as_the_hf_model(
        generation_models, monkeypatch):
    from keras_gpt1.evaluation import text_generation

    hf, ours = generation_models
    full = generate(ours, GENERATE_CONTEXTS, ["never in the text"], 16)
    assert all(len(text) > 6 for text in full)
    # A stop string from the middle of each text, decoded 3 tokens a round.
    monkeypatch.setattr(text_generation, "GENERATION_ROUND", 3)
    for text, context in zip(full, GENERATE_CONTEXTS):
        stop = text[len(text) // 2:len(text) // 2 + 2]
        got = generate(ours, [context], [stop], 16)
        assert got == [text.split(stop)[0]] == generate(hf, [context], [stop], 16)
