"""Run the offline demo: pre-train a tiny GPT-1 on Python's own docs, then
fine-tune it to tell which part of the docs a paragraph comes from."""

from keras_gpt1.cli import flags


def add_arguments(p):
    p.add_argument("--output", default="keras-gpt1-demo", metavar="DIR",
                   help="demo directory (a previous demo there is replaced)")
    p.add_argument("--steps", type=flags.positive_int, default=400,
                   help="pre-training steps (default 400: ~1.5 min on 2 cores)")
    p.add_argument("--finetune-epochs", type=flags.positive_int, default=3,
                   help="fine-tuning epochs (default 3: under 1 min on 2 cores)")
    flags.add_xla_flag(p, training=True)


def run(args):
    from keras_gpt1.demo import run_demo

    return run_demo(
        args.output,
        steps=args.steps,
        finetune_epochs=args.finetune_epochs,
        jit_compile=args.xla,
        verbose=2 if args.json else 1,
    )
