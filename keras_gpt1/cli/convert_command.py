"""Convert OpenAI's GPT-1 weights (original release or Hugging Face) to a model directory."""

from keras_gpt1.cli import flags


def add_arguments(p):
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--openai-dir", metavar="DIR",
                        help="OpenAI's release: params_shapes.json, params_0.npy "
                             "... params_9.npy, encoder_bpe_40000.json, vocab_40000.bpe")
    source.add_argument("--hf-dir", metavar="DIR",
                        help="Hugging Face openai-gpt: config.json, model.safetensors, "
                             "vocab.json, merges.txt")
    p.add_argument("--output", required=True, metavar="DIR",
                   help="model directory to create (must not exist)")
    p.add_argument("--num-heads", type=flags.positive_int, default=None,
                   help="attention heads (default: 12 for --openai-dir, "
                        "config.json's n_head for --hf-dir)")


def run(args):
    from keras_gpt1.convert.convert_checkpoint import HF_FORMAT
    from keras_gpt1.convert.convert_checkpoint import OPENAI_FORMAT
    from keras_gpt1.convert.convert_checkpoint import convert_checkpoint

    if args.openai_dir:
        directory, source_format = args.openai_dir, OPENAI_FORMAT
    else:
        directory, source_format = args.hf_dir, HF_FORMAT
    summary = convert_checkpoint(directory, args.output, source_format, args.num_heads)
    print(f"wrote {summary['output']} ({summary['parameters']:,} parameters, "
          f"{summary['num_layers']} layers, from {source_format})")
    return summary
