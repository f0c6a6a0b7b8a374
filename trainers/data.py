"""Datasets: the row formats, loading from files / the Hub / Python rows, and validation with line numbers.
Rendering rows into prompt + completion belongs to the stage that trains on them (trainers/stage*.py).

    rows = load_rows("assets/datasets/stage2_instruction.jsonl")
    problems = validate_rows(rows, "stage2", tokenizer=tok, max_length=512)   # [] when clean
    python -m trainers validate FILE --format stage1|stage2|preference|grpo   # exit 1 and `line N: field: problem`
"""

import codecs
import csv
import io
import itertools
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

FORMATS = {
    "stage1": {"label": "stage1 rows", "required": ("prompt", "output"), "optional": ()},
    "stage2": {"label": "instruction rows", "required": ("instruction", "response"), "optional": ("input",)},
    # chosen and rejected must differ: a pair that prefers an answer to itself teaches nothing
    "preference": {"label": "preference rows", "required": ("prompt", "chosen", "rejected"), "optional": (),
                   "distinct": ("chosen", "rejected")},
    # a prompt with a verifiable target: `check` is an evaluation-suite check ({"type": exact|numeric|...}), and the
    # GRPO stage scores sampled completions with it (evalsuite.scorers)
    "grpo": {"label": "prompts with a check", "required": ("prompt", "check"), "optional": ("id", "category"),
             "objects": ("check",)},
}


def describe_format(fmt: str) -> str:
    """'instruction rows {instruction, response, input?}': what a format looks like, for messages."""
    spec = FORMATS[fmt]
    return f"{spec['label']} {{{', '.join(spec['required'] + tuple(f + '?' for f in spec['optional']))}}}"


@dataclass
class Row:
    line: int  # 1-based line in the source file (row number for Parquet / Hub / Python rows)
    data: dict | None  # None when the line could not be decoded at all
    error: str = ""


@dataclass
class Problem:
    line: int
    field: str
    problem: str
    level: str = "error"  # or "warning": reported, does not block training

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.problem}"


class DatasetError(ValueError):
    """Rows that failed validation; `problems` holds every one of them."""

    def __init__(self, problems: list[Problem], source: str = ""):
        self.problems = problems
        errors = [p for p in problems if p.level == "error"]
        head = "\n".join(str(p) for p in errors[:20])
        more = f"\n... and {len(errors) - 20} more" if len(errors) > 20 else ""
        super().__init__(f"{source}: {len(errors)} invalid row(s)\n{head}{more}")


MAX_DEPTH = 20  # rows are flat; deeper nesting is an attack or an export gone wrong, and would exhaust recursion


def _depth(value) -> int:
    """Nesting depth of a decoded JSON value, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if depth <= MAX_DEPTH:
                stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def _decode_json(text: str):
    """json.loads with a depth limit: (value, "") or (None, why)."""
    try:
        value = json.loads(text)
    except RecursionError:
        return None, f"nested more than {MAX_DEPTH} levels deep"
    if _depth(value) > MAX_DEPTH:
        return None, f"nested more than {MAX_DEPTH} levels deep"
    return value, ""


def _jsonl_rows(raw: bytes) -> list[Row]:
    rows = []
    raw = raw.removeprefix(codecs.BOM_UTF8)  # Windows editors start UTF-8 files with one
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as err:
            rows.append(Row(number, None, f"undecodable bytes at column {err.start + 1} (not UTF-8)"))
            continue
        try:
            data, why = _decode_json(text)
        except json.JSONDecodeError as err:
            rows.append(Row(number, None, f"invalid JSON: {err.msg} at column {err.colno}"))
            continue
        if why:
            rows.append(Row(number, None, why))
            continue
        rows.append(Row(number, data) if isinstance(data, dict) else Row(number, None, "not a JSON object"))
    return rows


def _json_rows(raw: bytes) -> list[Row]:
    try:
        data, why = _decode_json(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as err:
        return [Row(raw[: err.start].count(b"\n") + 1, None, "undecodable bytes (not UTF-8)")]
    except json.JSONDecodeError as err:
        return [Row(err.lineno, None, f"invalid JSON: {err.msg}")]
    if why:
        return [Row(1, None, why)]
    if isinstance(data, dict):  # {"data": [...]} / {"train": [...]} style
        data = next((v for v in data.values() if isinstance(v, list)), [data])
    if not isinstance(data, list):
        return [Row(1, None, "expected a JSON array of objects")]
    return [Row(i, d) if isinstance(d, dict) else Row(i, None, "not a JSON object") for i, d in enumerate(data, 1)]


def _csv_rows(raw: bytes) -> list[Row]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        return [Row(raw[: err.start].count(b"\n") + 1, None, "undecodable bytes (not UTF-8)")]
    reader = csv.DictReader(io.StringIO(text))
    rows = []
    for record in reader:
        data = {k: v for k, v in record.items() if k is not None}
        rows.append(Row(reader.line_num, data, "" if None not in record else "more cells than header columns"))
    return rows


def _parquet_rows(path: Path) -> list[Row]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as err:  # pyarrow raises several types for a file that is not Parquet
        return [Row(1, None, f"not a readable Parquet file ({err.__class__.__name__})")]
    return [Row(i, d) for i, d in enumerate(table.to_pylist(), 1)]


def load_rows(source, split: str = "train") -> list[Row]:
    """Rows from a path (.jsonl/.json/.csv/.parquet), a `datasets` Hub id, or a list of dicts."""
    if isinstance(source, list):
        return [Row(i, d) if isinstance(d, dict) else Row(i, None, "not a dict") for i, d in enumerate(source, 1)]
    from trainers.names import hub_only

    if hub_only(source):
        return _hub_rows(str(source), split)
    path = Path(str(source)).expanduser()
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".parquet":
            return _parquet_rows(path)
        raw = path.read_bytes()
        loaders = {".jsonl": _jsonl_rows, ".json": _json_rows, ".csv": _csv_rows}
        if suffix not in loaders:
            raise ValueError(f"{path}: unsupported file type '{suffix}' (use .jsonl, .json, .csv or .parquet)")
        return loaders[suffix](raw)
    if path.suffix or str(source).startswith((".", "/")):
        raise FileNotFoundError(f"{source}: no such file")
    return _hub_rows(str(source), split)


def _hub_rows(source: str, split: str) -> list[Row]:
    """A Hub dataset's rows; under a rows cap streamed, so a huge dataset is never downloaded whole (one row past
    the cap is read, so the caller can say it is over)."""
    from itertools import islice

    from datasets import load_dataset

    from trainers import caps
    from trainers.mode import public_mode

    cap = caps.limit("rows")
    try:
        if public_mode() and Path(source).exists():  # `datasets` would read the local folder: fail as a Hub miss
            raise FileNotFoundError(source)
        dataset = load_dataset(source, split=split, streaming=cap is not None)
        records = list(islice(dataset, int(cap) + 1) if cap is not None else dataset)
    except Exception as err:  # the Hub client raises many types; the user needs one sentence
        detail = "" if public_mode() else f" ({str(err).splitlines()[0]})"  # its text can name server paths
        raise ValueError(f"{source}: could not load from the Hugging Face Hub{detail}") from None
    return [Row(i, d) for i, d in enumerate(records, 1)]


def detect_format(rows: list[Row]) -> str | None:
    keys = set().union(*(r.data.keys() for r in rows[:20] if r.data)) if rows else set()
    for name, spec in FORMATS.items():
        if set(spec["required"]) <= keys:
            return name
    return None


_FILE_FORMATS: dict[tuple, str | None] = {}


def file_format(path) -> str | None:
    """The format a dataset file's first rows have (None when unreadable or none fits): how the Train tab offers
    each stage only the datasets it can train on. Remembered per file version, since a dropdown asks often."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        return None
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _FILE_FORMATS:
        try:
            with path.open("rb") as f:
                head = b"".join(itertools.islice(f, 20))
            _FILE_FORMATS[key] = detect_format(_jsonl_rows(head))
        except (OSError, ValueError):
            _FILE_FORMATS[key] = None
    return _FILE_FORMATS[key]


def _check_row(row: Row, spec: dict, tokenizer, max_length: int | None) -> list[Problem]:
    if row.data is None:
        return [Problem(row.line, "row", row.error)]
    problems = [Problem(row.line, "row", row.error)] if row.error else []
    known = set(spec["required"]) | set(spec["optional"])
    for field in spec["required"]:
        value = row.data.get(field)
        if field not in row.data or value is None:
            problems.append(Problem(row.line, field, "missing required field"))
        elif field in spec.get("objects", ()):
            problems += [Problem(row.line, field, p) for p in _object_problems(field, value)]
        elif not isinstance(value, str):
            problems.append(Problem(row.line, field, f"expected text, got {type(value).__name__}"))
        elif not value.strip():
            problems.append(Problem(row.line, field, "empty text"))
    for field in spec["optional"]:
        if row.data.get(field) not in (None, "") and not isinstance(row.data[field], str):
            problems.append(Problem(row.line, field, f"expected text, got {type(row.data[field]).__name__}"))
    for field in sorted(set(row.data) - known):
        problems.append(Problem(row.line, field, "unknown field, ignored", "warning"))
    first, second = spec.get("distinct", (None, None))
    if first and not problems and row.data[first].strip() == row.data[second].strip():
        problems.append(Problem(row.line, second, f"identical to {first}: the pair prefers nothing"))
    if tokenizer is not None and max_length and not problems:
        length = len(tokenizer(" ".join(_text(row.data.get(f)) for f in known), add_special_tokens=False)[
            "input_ids"])
        if length > max_length:
            problems.append(Problem(row.line, "row", f"{length} tokens, longer than max_length {max_length}"))
    return problems


def _text(value) -> str:
    return json.dumps(value) if isinstance(value, dict) else str(value or "")


def _object_problems(field: str, value) -> list[str]:
    """Problems with a structured field; `check` is an evaluation-suite check, validated by the suite's own rules."""
    if not isinstance(value, dict):
        return [f"expected an object, got {type(value).__name__}"]
    from evalsuite.suite import check_problems

    return [p.removeprefix("check: ") for p in check_problems(value)]


def validate_rows(rows: list[Row], fmt: str, tokenizer=None, max_length: int | None = None) -> list[Problem]:
    """Every problem in every row; errors block training, warnings (duplicates, unknown fields) do not."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format '{fmt}'; use one of {', '.join(FORMATS)}")
    if not rows:
        return [Problem(0, "file", "no rows")]
    spec, problems, seen = FORMATS[fmt], [], {}
    for row in rows:
        row_problems = _check_row(row, spec, tokenizer, max_length)
        problems.extend(row_problems)
        if row.data is not None and not row_problems:
            key = json.dumps({f: row.data.get(f) for f in spec["required"] + spec["optional"]}, sort_keys=True)
            if key in seen:
                problems.append(Problem(row.line, "row", f"duplicate of line {seen[key]}", "warning"))
            seen.setdefault(key, row.line)
    return problems


def load_valid_rows(source, fmt: str | None = None, tokenizer=None, max_length: int | None = None,
                    with_lines: bool = False):
    """(format, list of dicts[, their line numbers]) or DatasetError listing every bad row; never invalid data."""
    rows = load_rows(source)
    fmt = fmt or detect_format(rows)
    if fmt is None:
        raise DatasetError([Problem(1, "file", f"rows match no known format ({', '.join(FORMATS)})")],
                           str(source))
    problems = validate_rows(rows, fmt, tokenizer, max_length)
    if any(p.level == "error" for p in problems):
        raise DatasetError(problems, str(source))
    records = [r.data for r in rows]
    return (fmt, records, [r.line for r in rows]) if with_lines else (fmt, records)



DATASET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def save_rows(rows: list[dict], fmt: str, name: str, folder: Path | None = None) -> Path:
    """Rows as `<folder>/<name>.jsonl` (default $PLAYGROUND_HOME/datasets), written to a temp file and renamed, with
    only the format's fields. Raises DatasetError on an invalid row and ValueError on a bad name: nothing is written
    then, so a saved dataset is always one `train` accepts."""
    from trainers.paths import datasets_dir

    if not DATASET_NAME.match(name or ""):
        raise ValueError(f"name: '{name}' is not a dataset name (letters, digits, '-', '_' or '.', starting with a "
                         "letter or digit, at most 64 characters)")
    if not rows:
        raise ValueError("there are no rows to save")
    problems = validate_rows([Row(n, row) for n, row in enumerate(rows, start=1)], fmt)
    if any(p.level == "error" for p in problems):
        raise DatasetError(problems, name)
    fields = FORMATS[fmt]["required"] + FORMATS[fmt]["optional"]
    path = (folder or datasets_dir()) / f"{name}.jsonl"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text("".join(json.dumps({f: row[f] for f in fields if f in row}, ensure_ascii=False) + "\n"
                           for row in rows), encoding="utf-8")
    os.replace(tmp, path)
    return path
