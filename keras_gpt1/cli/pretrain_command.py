"""Pre-train a GPT-1 model on text files or a prepared corpus (paper stage 1)."""

from keras_gpt1.cli import flags


def add_arguments(p):
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--corpus", nargs="+", metavar="PATH",
                        help="UTF-8 text files, tokenized once into OUTPUT/data "
                        "(for a large corpus run prepare-corpus and use --data)")
    source.add_argument("--data", metavar="DIR",
                        help="a corpus made by keras-gpt1 prepare-corpus")
    p.add_argument("--output", required=True, metavar="DIR",
                   help="model directory to create (must not exist)")
    p.add_argument("--preset", default="tiny", help="architecture: tiny | gpt1")
    p.add_argument("--max-steps", type=int, default=1000,
                   help="optimizer steps in total (default 1000)")
    p.add_argument("--seq-len", type=int, default=None,
                   help="tokens per training window (default: the context)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--learning-rate", type=float, default=2.5e-4,
                   help="peak learning rate (paper: 2.5e-4)")
    p.add_argument("--warmup-steps", type=int, default=None,
                   help="linear warmup (paper: 2000; default min(2000, max_steps/10))")
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--clipnorm", type=float, default=1.0,
                   help="global gradient-norm clipping")
    p.add_argument("--vocab-size", type=int, default=8000,
                   help="BPE vocabulary size to train on --corpus")
    p.add_argument("--validation-fraction", type=float, default=0.05,
                   help="share of --corpus's documents held out (default 0.05)")
    p.add_argument("--dropout", type=float, default=None,
                   help="embedding, residual and attention dropout (default: the "
                   "preset's, 0.1 as in the paper)")
    p.add_argument("--attention-dropout", type=float, default=None,
                   help="dropout of the attention weights alone (default 0: "
                   "attention trains through one fused kernel, flash / cuDNN "
                   "on GPUs, measured to learn as well; the paper's is 0.1), "
                   "see docs/scaling.md")
    p.add_argument("--checkpoint-every", type=int, default=100,
                   help="steps between checkpoints (and validations)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plot", action="store_true",
                   help="also write OUTPUT/loss.png (training and validation loss)")
    flags.add_xla_flag(p, training=True)
    flags.add_scale_flags(p)


def run(args):
    from keras_gpt1.training.pretrain import PretrainConfig
    from keras_gpt1.training.pretrain import pretrain

    config = flags.config_from_args(
        PretrainConfig, args, jit_compile=args.xla, verbose=2 if args.json else 1
    )
    summary = pretrain(config)
    print(
        f"validation perplexity {summary['initial_val_perplexity']:.1f} -> "
        f"{summary['val_perplexity']:.1f} after {summary['steps']} steps; "
        f"model in {summary['output']}"
    )
    return summary
