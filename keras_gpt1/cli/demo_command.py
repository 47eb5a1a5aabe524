"""Run the offline demo: pre-train a tiny GPT-1 on Python's own docs, then
fine-tune it to tell which part of the docs a paragraph comes from."""

import os
import re
import shutil

from keras_gpt1.cli import flags

DEMO_MARKER = "demo.json"
DEMO_PROMPT = "The for statement"

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


def add_arguments(p):
    p.add_argument("--output", default="keras-gpt1-demo", metavar="DIR",
                   help="demo directory (a previous demo there is replaced)")
    p.add_argument("--steps", type=flags.positive_int, default=400,
                   help="pre-training steps (default 400: ~1.5 min on 2 cores)")
    p.add_argument("--finetune-epochs", type=flags.positive_int, default=3,
                   help="fine-tuning epochs (default 3: under 1 min on 2 cores)")
    flags.add_xla_flag(p, training=True)


def demo_corpus_text():
    """Python's bundled documentation topics (~465k characters of English),
    shipped with every CPython, so the demo needs no download."""
    import pydoc_data.topics

    return "\n\n".join(pydoc_data.topics.topics[k] for k in sorted(pydoc_data.topics.topics))


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


def _write_task_file(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        f.write("text\tlabel\n")
        for text, label in rows:
            f.write(f"{text}\t{label}\n")
    return path


def _claim_directory(path):
    from keras_gpt1.errors import GPT1InputError

    if os.path.exists(path):
        if not os.path.isfile(os.path.join(path, DEMO_MARKER)):
            raise GPT1InputError(
                f"{path} exists and is not a previous demo; pass --output NEW_DIR"
            )
        shutil.rmtree(path)
    os.makedirs(path)


def run(args):
    from keras_gpt1 import artifacts
    from keras_gpt1.training.pretrain import PretrainConfig
    from keras_gpt1.training.pretrain import pretrain

    _claim_directory(args.output)
    corpus = os.path.join(args.output, "corpus.txt")
    with open(corpus, "w", encoding="utf-8") as f:
        f.write(demo_corpus_text())
    artifacts.write_json(os.path.join(args.output, DEMO_MARKER), {"stage": "started"})

    print(f"[1/4] pre-training the 'tiny' preset on {corpus} for {args.steps} steps")
    summary = pretrain(
        PretrainConfig(
            corpus=[corpus],
            output=os.path.join(args.output, "pretrained"),
            preset="tiny",
            max_steps=args.steps,
            batch_size=16,
            learning_rate=2.5e-4,  # the paper's; post-LN stalls at 1e-3
            vocab_size=2000,
            checkpoint_every=100,
            jit_compile=args.xla,
            plot=True,
            verbose=2 if args.json else 1,
        )
    )
    print(
        f"validation perplexity: {summary['initial_val_perplexity']:.1f} before, "
        f"{summary['val_perplexity']:.1f} after"
    )

    model = artifacts.load_model(summary["output"])
    sample = model.generate(DEMO_PROMPT, max_new_tokens=40)
    print(f"[2/4] greedy sample:\n{sample}")

    attention_png = _attention_picture(model, os.path.join(args.output, "attention.png"))
    print(f"pictures: {summary['plot']} (loss curves), {attention_png} (causal attention)")

    finetuned = _finetune_step(args, summary["output"])
    exported = _export_step(args, model, sample)

    result = {
        "output": os.path.abspath(args.output),
        "pretrain": summary,
        "initial_val_perplexity": summary["initial_val_perplexity"],
        "val_perplexity": summary["val_perplexity"],
        "sample": sample,
        "finetune": finetuned,
        "export": exported,
        "attention_plot": attention_png,
    }
    artifacts.write_json(os.path.join(args.output, DEMO_MARKER), result)
    return result


def _finetune_step(args, pretrained):
    """Fine-tune the pre-trained model on the topic-family task."""
    from keras_gpt1.training.finetune import FinetuneConfig
    from keras_gpt1.training.finetune import finetune

    train_rows, validation_rows = demo_task_rows()
    task_dir = os.path.join(args.output, "topic_family")
    os.makedirs(task_dir)
    train = _write_task_file(os.path.join(task_dir, "train.tsv"), train_rows)
    validation = _write_task_file(
        os.path.join(task_dir, "validation.tsv"), validation_rows
    )
    print(
        f"[3/4] fine-tuning on {train} ({len(train_rows)} paragraphs, "
        f"{len(TOPIC_FAMILIES)} topic families) for {args.finetune_epochs} epochs"
    )
    summary = finetune(
        FinetuneConfig(
            model=pretrained,
            task="classification",
            train=train,
            validation=validation,
            output=os.path.join(args.output, "finetuned"),
            epochs=args.finetune_epochs,
            # A tiny model and ~100 updates: 8x the paper's 6.25e-5 (as in
            # benchmarks/sst2_pretraining_ablation.py).
            learning_rate=5e-4,
            max_length=FINETUNE_MAX_LENGTH,
            jit_compile=args.xla,
            verbose=2 if args.json else 1,
        )
    )
    majority = max(
        sum(1 for _, label in validation_rows if label == family)
        for family in TOPIC_FAMILIES
    ) / len(validation_rows)
    print(
        f"validation accuracy: {summary['val_accuracy']:.3f} on "
        f"{len(validation_rows)} held-out paragraphs (majority class: "
        f"{majority:.3f})"
    )
    summary["majority_class_accuracy"] = majority
    return summary


def _attention_picture(model, path):
    """Head 0 of the last block over the demo prompt: scores, mask, softmax."""
    from keras_gpt1 import plots

    ids = [int(i) for i in model.tokenizer([DEMO_PROMPT + " is used to iterate"])[0]]
    layer = model.backbone.num_layers - 1
    maps = plots.attention_maps(model, ids, layer=layer, head=0)
    return plots.plot_attention(
        maps, plots.token_labels(model.tokenizer, ids), path, layer=layer, head=0
    )


def _export_step(args, model, keras_sample):
    """Export the language model to LiteRT (KV-cache prefill/decode) and
    check that it continues the prompt exactly as Keras did."""
    from keras_gpt1.export import LiteRTCausalLM
    from keras_gpt1.export import export_litert

    bundle = os.path.join(args.output, "litert")
    print(f"[4/4] exporting the language model to LiteRT: {bundle}")
    export_litert(model, bundle)
    tflite = os.path.join(bundle, "model.tflite")
    litert_sample = LiteRTCausalLM(tflite).generate(DEMO_PROMPT, max_new_tokens=40)
    same = litert_sample == keras_sample
    print(
        f"LiteRT greedy sample {'equals' if same else 'DIFFERS FROM'} the Keras "
        f"one ({os.path.getsize(tflite) / 1e6:.1f} MB float32 file)"
    )
    return {"litert_model": os.path.abspath(tflite), "litert_sample_equals_keras": same,
            "litert_bytes": os.path.getsize(tflite)}
