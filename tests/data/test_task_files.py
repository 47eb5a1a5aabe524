import json

import pytest

from keras_gpt1 import GPT1InputError
from keras_gpt1.data.task_files import read_task_file
from keras_gpt1.data.task_files import table_from_texts


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_glue_tsv_with_header_reads_named_columns(tmp_path):
    path = write(tmp_path / "train.tsv",
                 'sentence\tlabel\nit \'s "fine" \t1\na dull film\t0\n')
    table = read_task_file(path, "classification")
    assert table.texts == [['it \'s "fine" ', "a dull film"]]
    assert table.labels == ["1", "0"]
    assert table.rows == [2, 3]
    assert (table.text_columns, table.label_column) == (["sentence"], "label")


def test_headerless_sentence_tab_label_tsv_just_works(tmp_path):
    path = write(tmp_path / "news.tsv", "stocks fell today\tBusiness\nA goal!\tSports\n")
    table = read_task_file(path, "classification")
    assert table.texts == [["stocks fell today", "A goal!"]]
    assert table.labels == ["Business", "Sports"]
    assert table.rows == [1, 2]


def test_glue_pair_tsv_finds_sentence1_sentence2(tmp_path):
    path = write(tmp_path / "rte.tsv",
                 "index\tsentence1\tsentence2\tlabel\n0\tA man.\tA person.\tentailment\n")
    table = read_task_file(path, "entailment")
    assert table.texts == [["A man."], ["A person."]]
    assert table.labels == ["entailment"]


def test_columns_by_position_for_a_headerless_file(tmp_path):
    path = write(tmp_path / "x.tsv", "7\tfirst\tsecond\tyes\n")
    table = read_task_file(path, "similarity", text_columns=["1", "2"],
                           label_column="3")
    assert table.texts == [["first"], ["second"]] and table.labels == ["yes"]


def test_csv_with_quoted_commas_and_newlines(tmp_path):
    path = write(tmp_path / "d.csv",
                 'premise,hypothesis,label\n"A, b","line one\nline two",neutral\n')
    table = read_task_file(path, "entailment")
    assert table.texts == [["A, b"], ["line one\nline two"]]
    assert table.labels == ["neutral"]


def test_jsonl_multiple_choice_with_a_list_of_answers(tmp_path):
    rows = [{"context": "Tom was hungry.", "question": "What next?",
             "choices": ["He ate.", "He slept."], "label": 0},
            {"context": "It rained.", "question": "", "choices": ["Wet", "Dry"],
             "label": "B"}]
    path = write(tmp_path / "mc.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    table = read_task_file(path, "multiple_choice")
    assert table.texts == [["Tom was hungry.", "It rained."], ["What next?", ""]]
    assert table.choices == [["He ate.", "He slept."], ["Wet", "Dry"]]
    assert table.labels == [0, "B"] and table.num_choices == 2


def test_multiple_choice_answers_in_columns_without_a_question(tmp_path):
    path = write(tmp_path / "swag.csv", "context,ending0,ending1,label\nA,b,c,1\n")
    table = read_task_file(path, "multiple_choice", text_columns=["context"],
                           choice_columns=["ending0", "ending1"])
    assert table.texts == [["A"], [""]] and table.choices == [["b", "c"]]


def test_prediction_files_need_no_label(tmp_path):
    path = write(tmp_path / "p.tsv", "sentence\nfine\n")
    table = read_task_file(path, "classification", require_label=False)
    assert table.labels is None and table.texts == [["fine"]]


def test_text_from_the_command_line_becomes_a_one_row_table():
    table = table_from_texts("entailment", ["a", "b"])
    assert table.texts == [["a"], ["b"]]
    with pytest.raises(GPT1InputError, match="reads 2 text column"):
        table_from_texts("entailment", ["a"])


@pytest.mark.parametrize(
    "name, text, kwargs, message",
    [
        ("e.tsv", "", {}, r"e\.tsv: empty file"),
        ("h.tsv", "sentence\tlabel\n", {}, r"h\.tsv: no data rows"),
        ("m.tsv", "sentence\tlabel\nx\t1\n", {"text_columns": ["text"]},
         r"m\.tsv: row 1, column 'text': no such column"),
        ("l.csv", "sentence,stars\nx,1\n", {},
         r"l\.csv: row 1, column 'label': no label column"),
        ("v.tsv", "sentence\tlabel\nx\t1\ny\n", {},
         r"v\.tsv: row 3, column 'label': missing value"),
        ("b.tsv", "sentence\tlabel\nx\t \n", {},
         r"b\.tsv: row 2, column 'label': empty label"),
        ("j.jsonl", '{"sentence": "x", "label": 1}\n{"label": 0}\n', {},
         r"j\.jsonl: row 2, column 'sentence': missing value"),
        ("n.jsonl", '{"sentence": "x", "label": 1}\nnot json\n', {},
         r"n\.jsonl: row 2: not a JSON object"),
        ("w.tsv", "a\tb\tc\td\n", {},
         r"w\.tsv: row 1: no header naming the columns"),
    ],
)
def test_bad_files_raise_one_line_errors_naming_file_row_and_column(
    tmp_path, name, text, kwargs, message
):
    path = write(tmp_path / name, text)
    with pytest.raises(GPT1InputError, match=message) as error:
        read_task_file(path, "classification", **kwargs)
    assert "\n" not in str(error.value)


def test_choice_list_of_the_wrong_length_names_row_and_column(tmp_path):
    rows = [{"context": "c", "choices": ["a", "b", "c"], "label": 0},
            {"context": "c", "choices": ["a", "b"], "label": 1}]
    path = write(tmp_path / "mc.jsonl", "\n".join(json.dumps(r) for r in rows))
    with pytest.raises(GPT1InputError,
                       match=r"mc\.jsonl: row 2, column 'choices': 2 answers where row 1 has 3"):
        read_task_file(path, "multiple_choice")


def test_missing_data_file_is_an_input_error(tmp_path):
    with pytest.raises(GPT1InputError, match="data file not found"):
        read_task_file(str(tmp_path / "none.tsv"), "classification")
