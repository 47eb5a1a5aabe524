"""Fine-tune a pre-trained GPT-1 on a labelled task (paper stage 2)."""

from keras_gpt1.cli import flags
from keras_gpt1.tasks import TASKS


def add_task_file_arguments(p):
    """Column flags shared by finetune, evaluate and predict."""
    p.add_argument("--text-column", nargs="+", default=None, metavar="C",
                   help="text column(s) in the task's order: text | premise "
                   "hypothesis | text_a text_b | context [question]; names, or "
                   "0-based positions for a file without a header "
                   "(default: the usual names, e.g. sentence, sentence1 sentence2)")
    p.add_argument("--label-column", default=None, metavar="L",
                   help="label column (default: label, gold_label, score, ...)")
    p.add_argument("--choice-column", nargs="+", default=None, metavar="C",
                   help="multiple choice: the answer columns, or one JSONL key "
                   "holding a list (default: choices)")


def add_arguments(p):
    p.add_argument("--model", required=True, metavar="DIR",
                   help="pre-trained model directory (keras-gpt1 pretrain output)")
    p.add_argument("--task", required=True, choices=TASKS)
    p.add_argument("--train", required=True, metavar="FILE",
                   help="labelled training file (.tsv, .csv or .jsonl)")
    p.add_argument("--validation", default=None, metavar="FILE",
                   help="labelled validation file, scored after training")
    p.add_argument("--output", required=True, metavar="DIR",
                   help="fine-tuned model directory to create (must not exist)")
    add_task_file_arguments(p)
    p.add_argument("--regression", action="store_true",
                   help="one-output head trained with squared error (e.g. "
                   "similarity scores, STS-B); implied by --task regression")
    p.add_argument("--epochs", type=flags.positive_int, default=3,
                   help="passes over the training file (paper: 3)")
    p.add_argument("--max-steps", type=flags.positive_int, default=None,
                   help="stop after this many updates")
    p.add_argument("--batch-size", type=flags.positive_int, default=32,
                   help="paper: 32")
    p.add_argument("--learning-rate", type=float, default=None,
                   help="peak learning rate (default: the paper's 6.25e-5 at "
                   "768 wide, x (768/width)^2 for narrower models, at most 1e-3; "
                   "the summary says which was used)")
    p.add_argument("--warmup-fraction", type=float, default=0.002,
                   help="linear warmup over this fraction of the updates (paper: 0.002)")
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--clipnorm", type=float, default=1.0,
                   help="global gradient-norm clipping")
    p.add_argument("--lm-loss-weight", type=float, default=0.5,
                   help="weight λ of the auxiliary LM loss (paper: 0.5; 0 turns it off)")
    p.add_argument("--dropout", type=float, default=0.1,
                   help="classifier dropout (paper: 0.1)")
    p.add_argument("--max-length", type=flags.positive_int, default=None,
                   help="tokens per sequence, special tokens included "
                   "(default: the model's context)")
    p.add_argument("--reinitialize", action="store_true",
                   help="re-initialise all weights (keep the architecture and "
                   "tokenizer): the paper's no-pre-training ablation")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plot", action="store_true",
                   help="also write OUTPUT/loss.png and history.csv (training loss per epoch)")
    flags.add_xla_flag(p, training=True)
    flags.add_scale_flags(p)


def run(args):
    from keras_gpt1.training.finetune import FinetuneConfig
    from keras_gpt1.training.finetune import finetune

    config = flags.config_from_args(
        FinetuneConfig, args,
        text_columns=args.text_column,
        choice_columns=args.choice_column,
        jit_compile=args.xla,
        verbose=2 if args.json else 1,
    )
    summary = finetune(config)
    scores = ", ".join(
        f"{k[4:]} {v:.4f}" for k, v in sorted(summary.items())
        if k.startswith("val_") and isinstance(v, float)
    )
    print(
        f"fine-tuned {summary['task']} for {summary['steps']} steps "
        f"(train loss {summary['train_loss']:.4f})"
        + (f"; validation: {scores}" if scores else "")
        + f"; model in {summary['output']}"
    )
    return summary
