"""Score a language model on lm-evaluation-harness tasks (LAMBADA, HellaSwag, WikiText, your own YAML)."""

from keras_gpt1.cli import flags


def task_names(text):
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        import argparse

        raise argparse.ArgumentTypeError("no task named")
    return names


def add_arguments(p):
    p.add_argument("--model", required=True, metavar="PATH",
                   help="model directory or .keras file (pretrain, convert), a "
                   "preset directory (save_to_preset), or a Hugging Face "
                   "openai-gpt checkpoint (directory or hf://owner/name)")
    p.add_argument("--tasks", required=True, type=task_names, metavar="T1,T2",
                   help="harness task, group or tag names, comma-separated "
                   "(e.g. lambada_openai,hellaswag,piqa,arc_easy,wikitext)")
    p.add_argument("--include-path", metavar="DIR", default=None,
                   help="also read task YAML files under DIR")
    p.add_argument("--limit", type=flags.positive_int, default=None, metavar="N",
                   help="only the first N examples of each task (for a quick look; "
                   "the scores are then not comparable)")
    p.add_argument("--num-fewshot", type=int, default=None, metavar="K",
                   help="examples shown before each question (default: the task's, "
                   "else 0)")
    p.add_argument("--batch-size", type=flags.positive_int, default=8,
                   help="requests per forward pass (default 8)")
    p.add_argument("--max-length", type=flags.positive_int, default=None,
                   help="tokens the model reads at once (default: its context, 512 "
                   "for GPT-1); longer inputs lose their oldest tokens")
    p.add_argument("--prefix-token-id", type=int, default=None, metavar="ID",
                   help="token before a text's first token (default: <unk> = 0 for "
                   "GPT-1's tokenizer, <|endoftext|> for keras-gpt1's)")
    p.add_argument("--bootstrap-iters", type=int, default=100000, metavar="N",
                   help="resamples for the standard errors of perplexities (the "
                   "harness's default 100000; 0 skips them)")


def run(args):
    from keras_gpt1.evaluation.harness_evaluation import evaluate_tasks
    from keras_gpt1.evaluation.harness_evaluation import json_results
    from keras_gpt1.evaluation.harness_evaluation import results_table

    results = evaluate_tasks(
        args.model, args.tasks, include_path=args.include_path, limit=args.limit,
        num_fewshot=args.num_fewshot, batch_size=args.batch_size,
        max_length=args.max_length, prefix_token_id=args.prefix_token_id,
        bootstrap_iters=args.bootstrap_iters)
    print(f"keras-gpt1 ({args.model}), limit: {args.limit}, num_fewshot: "
          f"{args.num_fewshot}, batch_size: {args.batch_size}")
    print(results_table(results))
    return json_results(results)
