"""Tokenize text files once into a prepared corpus for `pretrain --data`."""

from keras_gpt1.cli import flags


def add_arguments(p):
    p.add_argument("inputs", nargs="*", metavar="INPUT",
                   help="UTF-8 text files, directories (every file below), or "
                   "@LIST (a file naming one path per line); with --combine, "
                   "prepared corpora to join")
    p.add_argument("--output", metavar="DIR",
                   help="prepared-corpus directory to create (must not exist)")
    p.add_argument("--tokenizer", metavar="DIR", default=None,
                   help="use this tokenizer (a model directory from pretrain or "
                   "convert, or GPT-1's vocab.json + merges.txt) instead of "
                   "training a byte-level BPE")
    p.add_argument("--vocab-size", type=int, default=8000,
                   help="size of the BPE trained when no --tokenizer is given")
    p.add_argument("--validation-fraction", type=float, default=0.01,
                   help="share of documents held out for validation (default "
                   "0.01; documents end at blank lines)")
    p.add_argument("--workers", type=flags.positive_int, default=None,
                   help="tokenizing processes (default: every core)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the validation split")
    p.add_argument("--combine", action="store_true",
                   help="join the prepared corpora INPUT... (made with one "
                   "tokenizer, e.g. on several machines) into --output")
    p.add_argument("--verify", action="store_true",
                   help="check every shard of the prepared corpora INPUT... "
                   "against their sha256 (a full read) instead of preparing")


def run(args):
    from keras_gpt1.data.corpus_preparation import PrepareConfig
    from keras_gpt1.data.corpus_preparation import combine_prepared
    from keras_gpt1.data.corpus_preparation import prepare_corpus
    from keras_gpt1.errors import GPT1InputError

    if not args.inputs:
        raise GPT1InputError("no input given")
    if args.verify:
        from keras_gpt1.data.prepared_corpus import PreparedCorpus

        for directory in args.inputs:
            PreparedCorpus(directory).verify()
        print(f"{len(args.inputs)} prepared corpus(es) match their index")
        return {"verified": list(args.inputs)}
    if not args.output:
        raise GPT1InputError("--output is required")
    if args.combine:
        summary = combine_prepared(args.inputs, args.output)
        print(f"combined {len(args.inputs)} prepared corpora into {summary['output']}: "
              f"{summary['train_tokens']:,} training tokens")
        return summary
    config = flags.config_from_args(PrepareConfig, args,
                                    verbose=0 if args.json else 1)
    summary = prepare_corpus(config)
    print(f"{summary['train_tokens']:,} training and {summary['validation_tokens']:,} "
          f"validation tokens ({summary['train_documents']:,} and "
          f"{summary['validation_documents']:,} documents) in {summary['output']}; "
          f"{summary['tokens_per_second']:,.0f} tokens/s on {summary['workers']} "
          "process(es)")
    return summary
