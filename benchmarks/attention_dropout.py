"""Does GPT-1's attention dropout (0.1 on the attention weights) earn its
cost? Without it, training attention runs as one fused kernel (flash /
cuDNN on GPUs; `keras.ops.dot_product_attention`).

    cd benchmarks && python record.py attention_dropout.py [--steps 2000]

Pre-trains the `tiny` preset on Tiny Shakespeare (../shared/data; the last
5% of documents held out by prepare-corpus's hash split) twice with the
same seed and data order, `--attention-dropout 0.1` (the paper) and `0`,
every other dropout 0.1, and reports the validation loss and perplexity of
each and the training tokens/s on this machine's default path. The GPU
step time of each is in `gpu_train_throughput.py`.
"""

import argparse
import json
import os
import shutil
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "..", "shared", "data", "tinyshakespeare", "input.txt")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()

    from keras_gpt1.data.corpus_preparation import PrepareConfig
    from keras_gpt1.data.corpus_preparation import prepare_corpus
    from keras_gpt1.training.pretrain import PretrainConfig
    from keras_gpt1.training.pretrain import pretrain

    work = tempfile.mkdtemp(prefix="attention_dropout_")
    try:
        data = os.path.join(work, "data")
        prepare_corpus(PrepareConfig([CORPUS], data, vocab_size=2000,
                                     validation_fraction=0.05, verbose=0))
        result = {"steps": args.steps, "seq_len": args.seq_len,
                  "batch_size": args.batch_size, "learning_rate": args.learning_rate}
        for rate in (0.1, 0.0):
            summary = pretrain(PretrainConfig(
                data=data, output=os.path.join(work, f"lm_{rate}"), preset="tiny",
                max_steps=args.steps, seq_len=args.seq_len, batch_size=args.batch_size,
                learning_rate=args.learning_rate, dropout=0.1, attention_dropout=rate,
                checkpoint_every=max(args.steps // 4, 1), seed=0, verbose=0))
            result[f"attention_dropout_{rate}"] = {
                key: summary[key] for key in ("val_loss", "val_perplexity",
                                              "initial_val_loss", "tokens_per_second",
                                              "precision", "jit_compile")}
        result["val_loss_difference"] = (result["attention_dropout_0.0"]["val_loss"]
                                         - result["attention_dropout_0.1"]["val_loss"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=None if args.json else 1))


if __name__ == "__main__":
    main()
