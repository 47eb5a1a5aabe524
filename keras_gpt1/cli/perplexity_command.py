"""Perplexity of a text file: per token, per word and per byte, with lm-evaluation-harness's rolling windows."""

from keras_gpt1.cli import flags


def add_arguments(p):
    p.add_argument("--model", required=True, metavar="PATH",
                   help="model directory or .keras file, preset directory, or "
                   "Hugging Face openai-gpt checkpoint")
    p.add_argument("--text", required=True, metavar="FILE",
                   help="UTF-8 text file, scored as one document")
    p.add_argument("--max-length", type=flags.positive_int, default=None,
                   help="tokens the model reads at once (default: its context, 512 "
                   "for GPT-1)")
    p.add_argument("--stride", type=flags.positive_int, default=None,
                   help="tokens scored per window after the first (default: "
                   "--max-length, as lm-evaluation-harness; smaller gives each "
                   "token more context and costs more windows)")
    p.add_argument("--batch-size", type=flags.positive_int, default=8,
                   help="windows per forward pass (default 8)")
    p.add_argument("--prefix-token-id", type=int, default=None, metavar="ID",
                   help="token before the first (default: <unk> = 0 for GPT-1's "
                   "tokenizer, <|endoftext|> for keras-gpt1's)")


def run(args):
    from keras_gpt1.evaluation.perplexity import perplexity

    result = perplexity(args.model, path=args.text, max_length=args.max_length,
                        stride=args.stride, prefix_token_id=args.prefix_token_id,
                        batch_size=args.batch_size)
    result["text"] = args.text
    print(f"{args.text}: {result['tokens']} tokens, {result['words']} words, "
          f"{result['bytes']} bytes in {result['windows']} windows of <= "
          f"{result['max_length']} tokens (stride {result['stride']})")
    print(f"token perplexity {result['token_perplexity']:.4f}, word perplexity "
          f"{result['word_perplexity']:.4f}, byte perplexity "
          f"{result['byte_perplexity']:.4f}, bits per byte {result['bits_per_byte']:.4f}")
    return result
