"""Label new text with a fine-tuned GPT-1."""

from keras_gpt1.cli.evaluate_command import columns_of
from keras_gpt1.cli.finetune_command import add_task_file_arguments
from keras_gpt1.cli.generate_command import utf8_text


def add_arguments(p):
    p.add_argument("--model", required=True, metavar="DIR",
                   help="fine-tuned model directory (keras-gpt1 finetune output)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", action="append", metavar="T", type=utf8_text,
                        help="a text segment; repeat it for pairs (premise, "
                        "hypothesis) or for a context and question")
    source.add_argument("--input", metavar="FILE",
                        help="a .tsv, .csv or .jsonl file (labels not needed)")
    p.add_argument("--choice", action="append", metavar="A", type=utf8_text,
                   help="multiple choice: one answer (repeat for each)")
    add_task_file_arguments(p)


def _describe(prediction):
    if "label" in prediction:
        return f"{prediction['label']} ({prediction['probabilities'][prediction['label']]:.3f})"
    if "choice" in prediction:
        p = prediction["probabilities"][prediction["choice"]]
        return f"answer {prediction['choice']}: {prediction['answer']} ({p:.3f})"
    return f"{prediction['score']:.4f}"


def run(args):
    from keras_gpt1.data.task_files import table_from_texts
    from keras_gpt1.training.task_evaluation import load_task_model
    from keras_gpt1.training.task_evaluation import predict_task_model
    from keras_gpt1.training.task_evaluation import read_for_model

    model = load_task_model(args.model)
    if args.input:
        columns = columns_of(args)
        # A label column is only read when named: prediction needs none.
        columns["label_column"] = args.label_column
        table = read_for_model(model, args.input, require_label=False, **columns)
    else:
        table = table_from_texts(model.task, args.text, args.choice)
    predictions = predict_task_model(model, table)
    for row, prediction in zip(table.rows, predictions):
        prefix = f"row {row}: " if args.input else ""
        print(prefix + _describe(prediction))
    return {"task": model.task, "label_names": model.label_names,
            "predictions": predictions}
