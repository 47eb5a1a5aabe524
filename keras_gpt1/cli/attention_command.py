"""Draw one head's causal attention for a text: scores, mask, softmax."""

from keras_gpt1.cli.generate_command import utf8_text


def add_arguments(p):
    p.add_argument("--model", required=True, metavar="DIR")
    p.add_argument("--text", required=True, type=utf8_text, help="a sentence to look at")
    p.add_argument("--layer", type=int, default=0, help="block, from 0")
    p.add_argument("--head", type=int, default=0, help="head, from 0")
    p.add_argument("--output", required=True, metavar="FILE.png")


def run(args):
    from keras_gpt1 import artifacts
    from keras_gpt1 import plots
    from keras_gpt1.errors import GPT1InputError

    plots.check_png_path(args.output)
    if not args.text:
        raise GPT1InputError("text is empty")
    model = artifacts.load_model(args.model)
    if model.tokenizer is None:
        raise GPT1InputError(f"{args.model} has no tokenizer")
    ids = [int(i) for i in model.tokenizer([args.text])[0]]
    maps = plots.attention_maps(model, ids, args.layer, args.head)
    labels = plots.token_labels(model.tokenizer, ids)
    plots.plot_attention(maps, labels, args.output, args.layer, args.head)
    print(f"attention of layer {args.layer}, head {args.head} over {len(ids)} tokens -> {args.output}")
    return {
        "output": args.output,
        "tokens": labels,
        "layer": args.layer,
        "head": args.head,
        "weights": [[round(float(w), 6) for w in row] for row in maps["weights"]],
    }
