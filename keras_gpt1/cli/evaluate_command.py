"""Score a fine-tuned GPT-1 on a labelled file (accuracy, F1, MCC, ...)."""

from keras_gpt1.cli.finetune_command import add_task_file_arguments


def add_arguments(p):
    p.add_argument("--model", required=True, metavar="DIR",
                   help="fine-tuned model directory (keras-gpt1 finetune output)")
    p.add_argument("--data", required=True, metavar="FILE",
                   help="labelled file (.tsv, .csv or .jsonl)")
    add_task_file_arguments(p)


def columns_of(args):
    """Column flags, defaulting to the columns the model was trained on."""
    from keras_gpt1.training.task_evaluation import saved_columns

    saved = saved_columns(args.model)
    return {
        "text_columns": args.text_column or saved.get("text"),
        "label_column": args.label_column or saved.get("label"),
        "choice_columns": args.choice_column or saved.get("choices"),
    }


def run(args):
    from keras_gpt1.training.task_evaluation import evaluate_task_model
    from keras_gpt1.training.task_evaluation import load_task_model
    from keras_gpt1.training.task_evaluation import read_for_model

    model = load_task_model(args.model)
    table = read_for_model(model, args.data, **columns_of(args))
    result = evaluate_task_model(model, table)
    result["task"] = model.task
    result["data"] = args.data
    shown = ", ".join(
        f"{k} {v:.4f}" for k, v in sorted(result.items()) if isinstance(v, float)
    )
    print(f"{args.data}: {result['examples']} examples; {shown}")
    return result
