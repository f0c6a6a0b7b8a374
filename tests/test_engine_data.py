"""Dataset loading and validation: every bad row is reported with its line number and field, in every format, by
the library and by `python -m trainers validate` (exit 1 and `line N: field: problem`)."""

import re

import pytest

from trainers.data import DatasetError, detect_format, load_rows, load_valid_rows, validate_rows

LONG_PROMPT = "Summarise this: " + "the quick brown fox jumps over the lazy dog " * 12  # ~110 tokens

# One JSONL file with one known problem per marked line (line numbers are 1-based, the blank line 12 counts).
MALFORMED_LINES = [
    b'{"prompt": "Capital of France?", "output": "Paris"}',  # 1 ok
    b'{"prompt": "2+2?", "output": "4"}',  # 2 ok
    b'{"prompt": "broken", "output": "x"',  # 3 invalid JSON
    b'{"prompt": "Opposite of hot?", "output": "cold"}',  # 4 ok
    b'{"prompt": "Only a prompt"}',  # 5 missing output
    b'{"prompt": "Color of grass?", "output": "green"}',  # 6 ok
    b'{"prompt": "   ", "output": "blank prompt"}',  # 7 empty text
    b'{"prompt": "How many legs has a cat?", "output": 4}',  # 8 wrong type
    b'{"prompt": "caf\xe9 au lait?", "output": "coffee"}',  # 9 latin-1 byte: not UTF-8
    b'{"prompt": "Capital of France?", "output": "Paris"}',  # 10 duplicate of line 1 (warning)
    b'{"prompt": "' + LONG_PROMPT.encode() + b'", "output": "a fox"}',  # 11 too long for max_length 64
    b"",  # 12 blank: skipped, but still counted
    b'{"prompt": "Last row?", "output": "yes"}',  # 13 ok
]
EXPECTED_ERRORS = {(3, "row"), (5, "output"), (7, "prompt"), (8, "output"), (9, "row"), (11, "row")}


@pytest.fixture
def malformed_jsonl(tmp_path):
    path = tmp_path / "malformed.jsonl"
    path.write_bytes(b"\n".join(MALFORMED_LINES) + b"\n")
    return path


def test_malformed_jsonl_reports_exactly_the_bad_lines_and_fields(malformed_jsonl, tiny_tokenizer):
    problems = validate_rows(load_rows(malformed_jsonl), "stage1", tiny_tokenizer, max_length=64)
    errors = {(p.line, p.field): p.problem for p in problems if p.level == "error"}
    warnings = {(p.line, p.field): p.problem for p in problems if p.level == "warning"}

    assert set(errors) == EXPECTED_ERRORS
    assert errors[(3, "row")].startswith("invalid JSON")
    assert errors[(5, "output")] == "missing required field"
    assert errors[(7, "prompt")] == "empty text"
    assert errors[(8, "output")] == "expected text, got int"
    assert "not UTF-8" in errors[(9, "row")]
    assert re.fullmatch(r"\d+ tokens, longer than max_length 64", errors[(11, "row")])
    assert warnings == {(10, "row"): "duplicate of line 1"}


def test_length_check_needs_a_tokenizer_and_limit(malformed_jsonl):
    # Without max_length the long row is fine: the error above comes from the length check, not the row's shape.
    problems = validate_rows(load_rows(malformed_jsonl), "stage1")
    assert {(p.line, p.field) for p in problems if p.level == "error"} == EXPECTED_ERRORS - {(11, "row")}


def test_load_valid_rows_refuses_bad_files_and_lists_every_error(malformed_jsonl):
    with pytest.raises(DatasetError) as caught:
        load_valid_rows(malformed_jsonl, "stage1")
    message = str(caught.value)
    for line in (3, 5, 7, 8, 9):
        assert f"line {line}: " in message
    assert "line 10" not in message  # a duplicate is a warning: it does not block training
    assert "5 invalid row(s)" in message


def test_wrong_format_reports_missing_fields_per_row(write_jsonl):
    path = write_jsonl([{"prompt": "a", "output": "b"}, {"prompt": "c", "output": "d"}])
    problems = validate_rows(load_rows(path), "stage2")
    assert {(p.line, p.field) for p in problems if p.level == "error"} == {
        (1, "instruction"), (1, "response"), (2, "instruction"), (2, "response")}
    assert detect_format(load_rows(path)) == "stage1"


def test_csv_rows_carry_their_file_line_numbers(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text('prompt,output\n'
                    'Capital of Italy?,Rome\n'  # 2 ok
                    'Capital of Spain?,\n'  # 3 empty output
                    '"Name a fruit, please",apple\n'  # 4 ok: a quoted comma is one cell
                    'Only a prompt\n'  # 5 missing output
                    'a,b,c\n')  # 6 a cell more than the header
    rows = load_rows(path)
    assert [r.line for r in rows] == [2, 3, 4, 5, 6]
    assert rows[2].data == {"prompt": "Name a fruit, please", "output": "apple"}
    problems = {(p.line, p.field): p.problem for p in validate_rows(rows, "stage1") if p.level == "error"}
    assert problems == {(3, "output"): "empty text", (5, "output"): "missing required field",
                        (6, "row"): "more cells than header columns"}


def test_parquet_rows_are_numbered_and_validated(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"instruction": ["Add.", "Reverse.", None, "Upper."],
                             "input": ["2 3", "abc", "xyz", ""], "response": ["5", "", "zyx", "UPPER"]}), path)
    rows = load_rows(path)
    assert [r.line for r in rows] == [1, 2, 3, 4]
    assert detect_format(rows) == "stage2"
    problems = {(p.line, p.field): p.problem for p in validate_rows(rows, "stage2") if p.level == "error"}
    assert problems == {(2, "response"): "empty text", (3, "instruction"): "missing required field"}

    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"this is not parquet")
    [problem] = validate_rows(load_rows(broken), "stage2")
    assert (problem.line, problem.field) == (1, "row") and "not a readable Parquet file" in problem.problem


def test_validate_cli_exits_1_with_one_line_per_bad_row(malformed_jsonl, run_cli, tiny_path):
    result = run_cli("validate", malformed_jsonl, "--format", "stage1", "--max-length", "64", "--model", "tiny",
                     timeout=120)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    errors = [line for line in lines if not line.startswith("warning: ")]
    parsed = [re.fullmatch(r"line (\d+): (\w+): (.+)", line) for line in errors]
    assert all(parsed), errors
    assert {(int(m[1]), m[2]) for m in parsed} == EXPECTED_ERRORS
    assert [line for line in lines if line.startswith("warning: ")] == ["warning: line 10: row: duplicate of line 1"]
    assert "6 error(s), 1 warning(s)" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("name, fmt", [("stage1_sft.jsonl", "stage1"), ("stage2_instruction.jsonl", "stage2"),
                                       ("preference.jsonl", "preference")])
def test_validate_cli_accepts_the_shipped_datasets(name, fmt, run_cli):
    result = run_cli("validate", f"assets/datasets/{name}", "--format", fmt, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not [line for line in result.stdout.splitlines() if line.startswith("line ")]
    assert ": 0 error(s)" in result.stderr


def test_validate_cli_rejects_the_wrong_format(run_cli):
    result = run_cli("validate", "assets/datasets/stage1_sft.jsonl", "--format", "stage2", timeout=60)
    assert result.returncode == 1
    assert re.match(r"line 1: instruction: missing required field", result.stdout)


def test_rows_are_measured_as_trained_template_and_system_prompt_included(tiny_config, write_jsonl, tiny_tokenizer):
    """A row that fits max_length as raw text but not once rendered through the chat template is refused, by line."""
    from trainers.stages import preflight

    short = {"prompt": "Name a colour.", "output": "red"}
    raw_words = " ".join(["word"] * 30)
    long_once_rendered = {"prompt": raw_words, "output": "ok"}
    from trainers.templates import CHAT, render_with_template

    def rendered(row):
        text = render_with_template(CHAT, row["prompt"], "", tiny_tokenizer) + row["output"]
        return len(tiny_tokenizer(text, add_special_tokens=False)["input_ids"]) + 1

    raw_tokens = len(tiny_tokenizer(raw_words + " ok", add_special_tokens=False)["input_ids"])
    limit = rendered(long_once_rendered) - 1
    assert raw_tokens < limit and rendered(short) <= limit  # the raw check alone would pass both rows
    path = write_jsonl([short, long_once_rendered])
    with pytest.raises(DatasetError) as caught:
        preflight(tiny_config("stage1_sft.yaml", dataset=str(path), max_length=limit))
    assert [(p.line, p.field) for p in caught.value.problems] == [(2, "row")]
    assert "once rendered" in caught.value.problems[0].problem


def test_saved_rows_are_exactly_what_train_reads_and_bad_ones_save_nothing(tmp_path):
    from trainers.data import DatasetError, load_valid_rows, save_rows

    tmp_path = tmp_path / "saved"
    tmp_path.mkdir()
    rows = [{"instruction": "Say hi", "input": "", "response": "hi", "note": "dropped"},
            {"instruction": "Add 2 and 3", "response": "5"}]
    path = save_rows(rows, "stage2", "mine", folder=tmp_path)
    fmt, records = load_valid_rows(str(path))[:2]
    assert fmt == "stage2" and records == [{"instruction": "Say hi", "input": "", "response": "hi"},
                                           {"instruction": "Add 2 and 3", "response": "5"}]
    before = path.read_bytes()
    with pytest.raises(DatasetError, match="line 2: response"):
        save_rows([rows[0], {"instruction": "x", "response": ""}], "stage2", "mine", folder=tmp_path)
    with pytest.raises(ValueError, match="not a dataset name"):
        save_rows(rows, "stage2", "../escape", folder=tmp_path)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["mine.jsonl"]
