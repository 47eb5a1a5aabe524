"""What the evaluation tests share: tiny language models with either
tokenizer, exported to Hugging Face by `keras-gpt1 export --format
transformers`, and small lm-evaluation-harness tasks (YAML + JSONL the
tests write); `evaluation_fixtures.py` builds them once per session.
Hugging Face libraries run offline, their dataset cache in a temporary
directory: nothing downloads."""

import atexit
import contextlib
import importlib.util
import io
import json
import os
import shutil
import tempfile

# Before `datasets` or `huggingface_hub` is imported.
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["HF_HUB_OFFLINE"] = "1"
if "HF_DATASETS_CACHE" not in os.environ:
    os.environ["HF_DATASETS_CACHE"] = tempfile.mkdtemp(prefix="kg1-datasets-")
    atexit.register(shutil.rmtree, os.environ["HF_DATASETS_CACHE"], ignore_errors=True)

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_gpt1  # noqa: E402
from keras_gpt1 import artifacts  # noqa: E402
from keras_gpt1.cli.main import main  # noqa: E402

CONTEXT = 24  # tokens: short, so that tasks reach past it
TINY = dict(num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=64,
            max_sequence_length=CONTEXT, dropout=0.0)

# Letters, spaces and . , ! only: GPT-1's tiny test vocabulary spells them.
SENTENCES = [
    "the cat sat on the mat.",
    "a dog ran in the park, and the cat hid under the bed!",
    "she reads a book every night before sleep.",
    "the quick brown fox jumps over the lazy dog.",
    "rain fell all day and the river rose over its banks.",
    "he and the cat went home.",
]
# Multiple choice: questions short and long (past the context, so the
# oldest tokens are dropped), answers of one to several words.
MULTIPLE_CHOICE = [
    {"question": "the cat sat on the", "choices": ["mat.", "dog.", "river and the bank."],
     "label": 0},
    {"question": SENTENCES[1] + " " + SENTENCES[2] + " the dog",
     "choices": ["ran.", "sat on the mat!", "and the cat."], "label": 1},
    {"question": " ".join(SENTENCES) + " in the end the",
     "choices": ["cat", "dog", "fox jumps"], "label": 2},
    {"question": "rain fell", "choices": ["all day.", "on the cat, and the dog."],
     "label": 0},
    {"question": "he and the", "choices": ["cat", "cat went home."], "label": 1},
]
# Rolling log-likelihood: one short text, others of several windows, the
# last window of each only partly full.
ROLLING = [
    {"text": SENTENCES[0]},
    {"text": " ".join(SENTENCES)},
    {"text": " ".join(SENTENCES[1:4] * 3)},
    {"text": "and the cat! and the dog, and the fox."},
]
MC_TASK = "kg1_tiny_mc"
ROLLING_TASK = "kg1_tiny_rolling"


def tiny_openai_gpt_tokenizer():
    """GPT-1's tokenizer class over the hand-made `</w>` vocabulary of
    tests/convert/gpt1_checkpoint_files.py."""
    from keras_gpt1 import OpenAIGPTTokenizer

    path = os.path.join(os.path.dirname(__file__), "..", "convert",
                        "gpt1_checkpoint_files.py")
    spec = importlib.util.spec_from_file_location("_evaluation_checkpoints", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    vocabulary, merges = module.tiny_tokenizer_files()
    return OpenAIGPTTokenizer(vocabulary=vocabulary, merges=merges)


def tiny_lm(tokenizer, seed=0, scale=0.3):
    """A 2-layer, 16-wide `GPT1CausalLM` with a 24-token context, its
    weights moved far from their initialisation (non-trivial logits)."""
    keras.utils.set_random_seed(seed)
    vocabulary_size = tokenizer.vocabulary_size()
    if isinstance(tokenizer, keras_gpt1.OpenAIGPTTokenizer):
        vocabulary_size -= 3  # no rows for _start_, _delimiter_, _classify_
    backbone = keras_gpt1.GPT1Backbone(**TINY, vocabulary_size=vocabulary_size)
    lm = keras_gpt1.GPT1CausalLM(backbone, tokenizer=tokenizer)
    rng = np.random.default_rng(seed)
    for v in lm.weights:
        values = np.asarray(v)
        v.assign((values + scale * rng.normal(size=values.shape)).astype("float32"))
    return lm


def cli(argv):
    """`keras-gpt1 ARGV --json` in process -> its JSON."""
    with contextlib.redirect_stdout(io.StringIO()) as out:
        assert main([*argv, "--json"]) == 0
    return json.loads(out.getvalue().strip().splitlines()[-1])


def model_files(lm, root):
    """`lm` as a model directory, a `.keras` file, a preset directory and a
    Hugging Face directory (`export --format transformers`)."""
    os.makedirs(root, exist_ok=True)
    model_dir = os.path.join(root, "model")
    os.makedirs(model_dir)
    artifacts.save_model_file(lm, os.path.join(model_dir, artifacts.MODEL_FILE))
    lm.tokenizer.save_to_directory(model_dir)
    preset_dir = os.path.join(root, "preset")
    lm.save_to_preset(preset_dir)
    hf_dir = os.path.join(root, "hf")
    cli(["export", "--model", model_dir, "--format", "transformers", "--output", hf_dir])
    return {"model_dir": model_dir, "keras_file": os.path.join(model_dir, "model.keras"),
            "preset_dir": preset_dir, "hf_dir": hf_dir}


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    return str(path)


def write_tasks(directory):
    """A multiple-choice task and a rolling-log-likelihood task (WikiText's
    metrics) as YAML files in `directory`; returns it."""
    os.makedirs(directory, exist_ok=True)
    mc_data = write_jsonl(os.path.join(directory, "mc.jsonl"), MULTIPLE_CHOICE)
    rolling_data = write_jsonl(os.path.join(directory, "rolling.jsonl"), ROLLING)
    # Data paths are absolute: the harness resolves relative ones against
    # the working directory, not the YAML file's.
    with open(os.path.join(directory, "mc.yaml"), "w", encoding="utf-8") as f:
        f.write(f"""task: {MC_TASK}
dataset_path: json
dataset_name: null
dataset_kwargs:
  data_files:
    test: {mc_data}
output_type: multiple_choice
test_split: test
doc_to_text: "{{{{question}}}}"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: label
target_delimiter: " "
metric_list:
  - {{metric: acc, aggregation: mean, higher_is_better: true}}
  - {{metric: acc_norm, aggregation: mean, higher_is_better: true}}
metadata: {{version: 1.0}}
""")
    with open(os.path.join(directory, "rolling.yaml"), "w", encoding="utf-8") as f:
        f.write(f"""task: {ROLLING_TASK}
dataset_path: json
dataset_name: null
dataset_kwargs:
  data_files:
    test: {rolling_data}
output_type: loglikelihood_rolling
test_split: test
doc_to_text: ""
doc_to_target: "{{{{text}}}}"
metric_list:
  - {{metric: word_perplexity}}
  - {{metric: byte_perplexity}}
  - {{metric: bits_per_byte}}
metadata: {{version: 1.0}}
""")
    return str(directory)
