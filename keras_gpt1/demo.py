"""The offline demo: pre-train a tiny GPT-1 on Python's bundled
documentation, draw its loss curves and one attention head, fine-tune it
to tell which part of the docs a paragraph comes from, export it to
LiteRT and check the `.tflite` continues a prompt exactly as Keras does.

Everything comes with CPython (`pydoc_data.topics`), so the demo needs no
download. `run_demo` does the work and reports each step through
`report` (the CLI passes `print`).
"""

import os
import re
import shutil

from keras_gpt1 import artifacts
from keras_gpt1.errors import GPT1InputError

DEMO_MARKER = "demo.json"
DEMO_PROMPT = "The for statement"
DEMO_NEW_TOKENS = 40
# A tiny model's greedy text loops ('"" is a "" is a ...'); the demo also
# shows a seeded nucleus sample (paper-era models were sampled so too).
DEMO_TOP_P = 0.9
DEMO_SEED = 1
PRETRAIN_BATCH_SIZE = 16
PRETRAIN_VOCABULARY_SIZE = 2000
CHECKPOINT_EVERY = 100

# The fine-tuning task: which family of Python documentation topics a
# paragraph of `pydoc_data.topics` comes from (topics of other kinds, such
# as the execution model, are left out).
TOPIC_FAMILIES = {
    "statement": (
        "assert assignment async augassign break class compound continue del "
        "else for function global if import nonlocal pass raise return try "
        "while with yield"
    ).split(),
    "expression": (
        "atom-identifiers atom-literals attribute-references await binary "
        "bitwise booleans calls comparisons conversions exprlists floating "
        "formatstrings identifiers imaginary in integers lambda numbers "
        "operator-summary power shifting slicings strings subscriptions unary"
    ).split(),
    "type": (
        "attribute-access bltin-code-objects bltin-ellipsis-object "
        "bltin-null-object bltin-type-objects callable-types context-managers "
        "customization dict lists numeric-types objects sequence-types "
        "specialattrs specialnames string-methods truth types typesfunctions "
        "typesmapping typesmethods typesmodules typesseq typesseq-mutable"
    ).split(),
}
MIN_PARAGRAPH_WORDS = 12
VALIDATION_EVERY = 5  # every 5th paragraph of each family is held out
FINETUNE_MAX_LENGTH = 64
# A tiny model and ~100 updates: 8x the paper's 6.25e-5 (as in
# benchmarks/sst2_pretraining_ablation.py).
FINETUNE_LEARNING_RATE = 5e-4


def demo_corpus_text():
    """Python's bundled documentation topics (~465k characters of English),
    shipped with every CPython."""
    import pydoc_data.topics

    topics = pydoc_data.topics.topics
    return "\n\n".join(topics[k] for k in sorted(topics))


def demo_task_rows():
    """`(train, validation)` lists of `(paragraph, family)` from the topics
    of `TOPIC_FAMILIES`, in a fixed order."""
    import pydoc_data.topics

    train, validation = [], []
    for family, keys in TOPIC_FAMILIES.items():
        paragraphs = []
        for key in keys:
            text = pydoc_data.topics.topics.get(key, "")
            for paragraph in re.split(r"\n\s*\n", text):
                words = paragraph.split()
                if len(words) >= MIN_PARAGRAPH_WORDS:
                    paragraphs.append(" ".join(words))
        for i, paragraph in enumerate(paragraphs):
            (validation if i % VALIDATION_EVERY == 0 else train).append(
                (paragraph, family)
            )
    return train, validation


def write_task_file(path, rows):
    """`rows` of `(text, label)` as a headered TSV file."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("text\tlabel\n")
        for text, label in rows:
            f.write(f"{text}\t{label}\n")
    return path


def claim_directory(path):
    """Create `path`, replacing a previous demo there (nothing else)."""
    if os.path.exists(path):
        if not os.path.isfile(os.path.join(path, DEMO_MARKER)):
            raise GPT1InputError(
                f"{path} exists and is not a previous demo; pass --output NEW_DIR"
            )
        shutil.rmtree(path)
    os.makedirs(path)


def run_demo(output, steps=400, finetune_epochs=3, jit_compile=None, verbose=1,
             report=print):
    """Run the four steps in `output`; returns the demo's result dict
    (also written to `output/demo.json`)."""
    from keras_gpt1.training.pretrain import PretrainConfig
    from keras_gpt1.training.pretrain import pretrain

    claim_directory(output)
    corpus = os.path.join(output, "corpus.txt")
    with open(corpus, "w", encoding="utf-8") as f:
        f.write(demo_corpus_text())
    artifacts.write_json(os.path.join(output, DEMO_MARKER), {"stage": "started"})

    report(f"[1/4] pre-training the 'tiny' preset on {corpus} for {steps} steps")
    summary = pretrain(
        PretrainConfig(
            corpus=[corpus],
            output=os.path.join(output, "pretrained"),
            preset="tiny",
            max_steps=steps,
            batch_size=PRETRAIN_BATCH_SIZE,
            vocab_size=PRETRAIN_VOCABULARY_SIZE,
            checkpoint_every=CHECKPOINT_EVERY,
            jit_compile=jit_compile,
            plot=True,
            verbose=verbose,
        )
    )
    report(
        f"validation perplexity: {summary['initial_val_perplexity']:.1f} before, "
        f"{summary['val_perplexity']:.1f} after"
    )

    model = artifacts.load_model(summary["output"])
    sample = model.generate(DEMO_PROMPT, max_new_tokens=DEMO_NEW_TOKENS)
    sampled = model.generate(DEMO_PROMPT, max_new_tokens=DEMO_NEW_TOKENS,
                             sampler="top_p", top_p=DEMO_TOP_P, seed=DEMO_SEED)
    report(f"[2/4] greedy sample:\n{sample}")
    report(f"top-p sample (p={DEMO_TOP_P}, seed {DEMO_SEED}):\n{sampled}")

    attention_png = attention_picture(model, os.path.join(output, "attention.png"))
    report(f"pictures: {summary['plot']} (loss curves), {attention_png} "
           "(causal attention)")

    finetuned = finetune_step(output, summary["output"], finetune_epochs, jit_compile,
                              verbose, report)
    exported = export_step(output, model, sample, report)

    result = {
        "output": os.path.abspath(output),
        "pretrain": summary,
        "initial_val_perplexity": summary["initial_val_perplexity"],
        "val_perplexity": summary["val_perplexity"],
        "sample": sample,
        "top_p_sample": sampled,
        "finetune": finetuned,
        "export": exported,
        "attention_plot": attention_png,
    }
    artifacts.write_json(os.path.join(output, DEMO_MARKER), result)
    return result


def finetune_step(output, pretrained, epochs, jit_compile, verbose, report):
    """Fine-tune the pre-trained model on the topic-family task."""
    from keras_gpt1.training.finetune import FinetuneConfig
    from keras_gpt1.training.finetune import finetune

    train_rows, validation_rows = demo_task_rows()
    task_dir = os.path.join(output, "topic_family")
    os.makedirs(task_dir)
    train = write_task_file(os.path.join(task_dir, "train.tsv"), train_rows)
    validation = write_task_file(
        os.path.join(task_dir, "validation.tsv"), validation_rows
    )
    report(
        f"[3/4] fine-tuning on {train} ({len(train_rows)} paragraphs, "
        f"{len(TOPIC_FAMILIES)} topic families) for {epochs} epochs"
    )
    summary = finetune(
        FinetuneConfig(
            model=pretrained,
            task="classification",
            train=train,
            validation=validation,
            output=os.path.join(output, "finetuned"),
            epochs=epochs,
            learning_rate=FINETUNE_LEARNING_RATE,
            max_length=FINETUNE_MAX_LENGTH,
            jit_compile=jit_compile,
            verbose=verbose,
        )
    )
    majority = max(
        sum(1 for _, label in validation_rows if label == family)
        for family in TOPIC_FAMILIES
    ) / len(validation_rows)
    report(
        f"validation accuracy: {summary['val_accuracy']:.3f} on "
        f"{len(validation_rows)} held-out paragraphs (majority class: "
        f"{majority:.3f})"
    )
    summary["majority_class_accuracy"] = majority
    return summary


def attention_picture(model, path):
    """Head 0 of the last block over the demo prompt: scores, mask, softmax."""
    from keras_gpt1 import plots
    from keras_gpt1.token_ids import token_id_lists

    ids = token_id_lists(model.tokenizer, [DEMO_PROMPT + " is used to iterate"])[0]
    layer = model.backbone.num_layers - 1
    maps = plots.attention_maps(model, ids, layer=layer, head=0)
    return plots.plot_attention(
        maps, plots.token_labels(model.tokenizer, ids), path, layer=layer, head=0
    )


def export_step(output, model, keras_sample, report):
    """Export the language model to LiteRT (KV-cache prefill/decode) and
    check that it continues the prompt as Keras did: the same text, or
    different only where Keras's top two tokens are a float-rounding tie
    (a model trained a few steps has near-uniform logits)."""
    from keras_gpt1.export import LiteRTCausalLM
    from keras_gpt1.export import export_litert
    from keras_gpt1.export.litert_runtime import greedy_agreement

    bundle = os.path.join(output, "litert")
    report(f"[4/4] exporting the language model to LiteRT: {bundle}")
    exported = export_litert(model, bundle)
    tflite = exported["path"]
    runner = LiteRTCausalLM(tflite)
    litert_sample = runner.generate(DEMO_PROMPT, max_new_tokens=DEMO_NEW_TOKENS)
    same = litert_sample == keras_sample
    agreement = greedy_agreement(runner, model, runner.tokenize(DEMO_PROMPT),
                                 DEMO_NEW_TOKENS)
    if same:
        verdict = "equals the Keras one"
    elif agreement["agrees"]:
        verdict = "differs from the Keras one only at float-rounding ties"
    else:
        verdict = "DIFFERS FROM the Keras one"
    report(
        f"LiteRT greedy sample {verdict} (logits within "
        f"{agreement['max_logit_difference']:.1e}; "
        f"{os.path.getsize(tflite) / 1e6:.1f} MB float32 file)"
    )
    return {"litert_model": os.path.abspath(tflite), "litert_sample_equals_keras": same,
            "litert_agrees_with_keras": same or agreement["agrees"],
            "litert_max_logit_difference": agreement["max_logit_difference"],
            "litert_bytes": os.path.getsize(tflite)}
