"""Data tab: load a starter file, an upload or a Hub dataset; page through it; see every validation problem with its
line; add, edit and delete rows; view one row under every prompt template with the loss-carrying tokens marked;
save the result as a named dataset in $PLAYGROUND_HOME/datasets for the Train tab; build preference pairs from a
model's own answers (playground/pairs_panel.py).

The rows being edited belong to the browser session (gr.State); nothing is written until "Save".
"""

from pathlib import Path

import gradio as gr

from playground import resources
from playground.common import dataset_choices, notice
from playground.notes import DATA_NOTE
from playground.pairs_panel import create_pairs_panel
from playground.workspace import owned
from trainers import caps
from trainers.data import DATASET_NAME, FORMATS, Row, detect_format, load_rows, validate_rows
from trainers.mode import public_mode
from trainers.names import NameRefused, dataset_reference, saved_folder
from trainers.validate import form_number

PAGE_SIZE = 10
EMPTY = {"rows": [], "errors": [], "lines": [], "format": None, "source": ""}
REPORT_HEADERS = ["line", "field", "problem", "level"]
REPORT_WIDTHS = ["12%", "18%", "55%", "15%"]


def fields_of(fmt: str | None) -> list[str]:
    """The format's fields in reading order (Stage 2: instruction, input, response)."""
    spec = FORMATS.get(fmt or "stage1")
    fields = list(spec["required"]) + list(spec["optional"])
    return ["instruction", "input", "response"] if fmt == "stage2" else fields


def rows_from_source(source, name: str | None = None, owner: str | None = None,
                     uploaded: bool = False) -> tuple[dict, str]:
    """Load rows into a fresh session state; returns (state, message). Bad sources give EMPTY and a message.
    In public mode `source` must be a name (a starter, a dataset this workspace saved, a Hub id) unless it is a file
    Gradio received as an upload."""
    from trainers.sft_core import resolve_dataset

    source = str(source or "").strip()
    name = name or source
    if public_mode() and not uploaded:
        try:
            source = resolve_dataset(dataset_reference(source, owner))
        except NameRefused as err:
            return dict(EMPTY), notice(f"Could not load {name}: {err}")
    try:
        loaded = load_rows(source)
    except (ValueError, FileNotFoundError, OSError) as err:
        return dict(EMPTY), notice(f"Could not load {name}: {str(err).replace(str(source), name).strip()}")
    refused = caps.refusal("rows", len(loaded))
    if refused:
        return dict(EMPTY), notice(f"Could not load {name}: {refused}")
    data = {"rows": [r.data for r in loaded], "errors": [r.error for r in loaded], "lines": [r.line for r in loaded],
            "format": detect_format(loaded), "source": name}
    source = name
    if loaded and all(r.data is None for r in loaded):
        return data, notice(f"Could not read {name}: {loaded[0].error}. Is it really the format its name says?")
    if not loaded:
        return data, notice(f"{source} has no rows: upload a file with at least one JSON object per line.")
    if data["format"] is None:
        return data, notice(f"{source}: the rows match no known format (stage1: prompt/output, stage2: "
                            f"instruction/input/response, preference: prompt/chosen/rejected). See the report.")
    return data, f"Loaded {len(loaded)} row(s) from `{source}`; detected format **{data['format']}**."


def problems_of(data: dict, fmt: str | None, max_length: int | None) -> list:
    if not data["rows"] and not data["errors"]:
        return []
    max_length, problem = form_number("max_length", max_length or 0, minimum=0)
    if problem:  # an unusable value from the API: check the rows without a length limit
        max_length = None
    rows = [Row(line, row, err) for line, row, err in zip(data["lines"], data["rows"], data["errors"], strict=True)]
    tokenizer = None
    if max_length:
        try:
            tokenizer = resources.tokenizer_for()
        except Exception:  # no tokenizer (model not available): validate without the length check
            tokenizer = None
    return validate_rows(rows, fmt or "stage1", tokenizer, int(max_length) if max_length else None)


def _cell(value, limit: int = 160) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= limit else text[:limit] + "…"


def preview_page(data: dict, fmt: str | None, page) -> tuple[list[list], str, int]:
    fields = fields_of(fmt)
    total_pages = max(1, -(-len(data["rows"]) // PAGE_SIZE))
    page = min(max(1, form_number("page", page or 1)[0] or 1), total_pages)
    start = (page - 1) * PAGE_SIZE
    table = []
    for line, row, err in list(zip(data["lines"], data["rows"], data["errors"], strict=True))[start:start + PAGE_SIZE]:
        cells = [_cell((row or {}).get(f, "")) if row is not None else "" for f in fields]
        if row is None:
            cells[0] = f"(unreadable: {err})"
        table.append([line] + cells)
    return table, f"page {page} of {total_pages} · {len(data['rows'])} rows", page


def views(data: dict, fmt: str | None, page, max_length):
    """Everything that depends on the rows: preview page, page info, validation report and its summary."""
    fmt = fmt or data.get("format") or "stage1"
    table, info, page = preview_page(data, fmt, page)
    problems = problems_of(data, fmt, max_length)
    errors = [p for p in problems if p.level == "error"]
    report = [[p.line, p.field, p.problem, p.level] for p in problems]
    if not data["rows"] and not data["errors"]:
        summary = "No rows loaded."
    elif errors:
        summary = (f"**✗ {len(errors)} error(s)** in {len({p.line for p in errors})} row(s), "
                   f"{len(problems) - len(errors)} warning(s) as format **{fmt}**: fix or delete those rows to save.")
    else:
        summary = f"**✓ {len(data['rows'])} rows valid** as **{fmt}** ({len(problems)} warning(s))."
    widths = ["70px"] + [f"{90 // len(fields_of(fmt))}%"] * len(fields_of(fmt))
    preview = gr.update(value=table, headers=["line"] + fields_of(fmt), column_widths=widths)
    report = gr.update(value=report, headers=REPORT_HEADERS, column_widths=REPORT_WIDTHS)
    return preview, info, page, report, summary


def index_of(data: dict, line) -> int | None:
    try:
        return data["lines"].index(int(line))
    except (ValueError, TypeError):
        return None


def editor_updates(fmt: str | None, row: dict | None):
    fields = fields_of(fmt)
    return [gr.update(label=fields[i], value=str((row or {}).get(fields[i], "") or ""), visible=True)
            if i < len(fields) else gr.update(value="", visible=False) for i in range(3)]


def save_dataset(data: dict, fmt: str | None, name: str, max_length, owner: str | None = None) -> str:
    """Save the session's rows under `name` in this workspace's datasets (in public mode a visitor writes only
    their own folder, so a name another workspace used is theirs alone)."""
    from trainers.data import DatasetError, save_rows

    name = str(name or "").strip()
    if not DATASET_NAME.fullmatch(name):
        return notice("Give the dataset a name: letters, digits, '-', '_' or '.', starting with a letter or digit.")
    if not data["rows"]:
        return notice("There are no rows to save.")
    fmt = fmt or data.get("format")
    if fmt not in FORMATS:
        return notice(f"format: '{fmt}' is not one of {', '.join(FORMATS)}")
    errors = [p for p in problems_of(data, fmt, max_length) if p.level == "error"]
    if errors:
        return notice(f"Not saved: {len(errors)} error(s) left, first: {errors[0]}. Fix or delete those rows.")
    folder = saved_folder(owner or "anonymous")
    replaced = (folder / f"{name}.jsonl").is_file()
    try:
        path = save_rows(data["rows"], fmt, name, folder=folder)
    except (DatasetError, ValueError, OSError) as err:
        return notice(f"Not saved: {str(err).splitlines()[0]}")
    where = "" if public_mode() else f" ({path})"
    verb = "Replaced your" if replaced else "Saved"
    return notice(f"{verb} {len(data['rows'])} {fmt} rows as '{name}'{where}; pick 'saved: {name}' in the Train "
                  "tab.", "info")


def template_names() -> list[tuple[str, str]]:
    from trainers.templates import HELDOUT_TEMPLATES, TRAIN_TEMPLATES

    return [(n, "training") for n in TRAIN_TEMPLATES] + [(n, "held-out") for n in HELDOUT_TEMPLATES]


def template_view(data: dict, fmt: str | None, line):
    """One HighlightedText value per template (training and held-out): the row's tokens, loss tokens marked."""
    from trainers.templates import loss_token_view, render_with_template

    names = template_names()
    i = index_of(data, line)
    if i is None or data["rows"][i] is None:
        return notice(f"Line {line} is not a readable row; pick a line number from the preview."), *[
            gr.skip()] * len(names)
    fmt = fmt or data.get("format")
    row = data["rows"][i]
    if fmt == "stage2":
        instruction, input_text, response = row.get("instruction", ""), row.get("input", ""), row.get("response", "")
    elif fmt == "stage1":
        instruction, input_text, response = row.get("prompt", ""), "", row.get("output", "")
    else:
        return notice("Template views are for Stage 1/2 rows; preference rows are rendered by the DPO stage."), *[
            gr.skip()] * len(names)
    tokenizer = resources.tokenizer_for()
    views = []
    for name, _ in names:
        prompt = render_with_template(name, str(instruction), str(input_text or ""), tokenizer)
        views.append([(tok, "loss" if carries else None)
                      for tok, carries in loss_token_view(tokenizer, prompt, str(response).strip())])
    note = ("Stage 1 trains on the chat template only; the others show what it never sees." if fmt == "stage1"
            else "Stage 2 draws one training template per row; held-out templates are only used in evaluation.")
    return f"Line {line}: green tokens carry the loss (the completion), prompt tokens do not. {note}", *views


def create_data_tab():
    with gr.Tab("Data", id="data") as tab:
        gr.Markdown(DATA_NOTE)
        data = gr.State(dict(EMPTY))
        with gr.Row():
            with gr.Column(scale=2):
                choices = dataset_choices()
                # custom values: a dataset saved after the page was built (rows_from_source checks every name)
                starter = gr.Dropdown(choices, label="Starter or saved dataset", elem_id="data-source",
                                      value=next((v for _, v in choices if "stage2_instruction" in v), None),
                                      allow_custom_value=True)
                load_btn = gr.Button("Load", elem_id="data-load")
            upload = gr.File(label="Upload JSONL / JSON / CSV / Parquet", file_types=[".jsonl", ".json", ".csv",
                                                                                       ".parquet"],
                             elem_id="data-upload", scale=2, height=120)
            with gr.Column(scale=2):
                hub_id = gr.Textbox(label="Hugging Face dataset id", placeholder="user/dataset", elem_id="data-hub")
                hub_btn = gr.Button("Load from the Hub")
        with gr.Row():
            fmt = gr.Dropdown(list(FORMATS), label="Format", value=None, scale=1, elem_id="data-format",
                              info="detected from the columns; change it to validate as another format")
            max_length = gr.Number(256, label="max_length (tokens)", precision=0, minimum=0, scale=1,
                                   info="rows longer than this are errors; 0 skips the length check")
            summary = gr.Markdown("No rows loaded.", elem_id="data-summary")
        message = gr.Markdown(elem_id="data-message")
        with gr.Row():
            with gr.Column(scale=3):
                preview = gr.Dataframe(headers=["line"] + fields_of("stage1"), label="Preview", interactive=False,
                                       wrap=True, max_height=420, elem_id="data-preview")
                with gr.Row():
                    prev_btn = gr.Button("◀ Previous", size="sm")
                    page = gr.Number(1, label="Page", precision=0, minimum=1, min_width=80)
                    next_btn = gr.Button("Next ▶", size="sm")
                    page_info = gr.Markdown("")
            report = gr.Dataframe(headers=REPORT_HEADERS, column_widths=REPORT_WIDTHS, label="Validation report",
                                  interactive=False, wrap=True, max_height=420, scale=2, elem_id="data-report")
        with gr.Accordion("Edit rows", open=True):
            with gr.Row():
                line = gr.Number(1, label="Line", precision=0, minimum=1, min_width=100, scale=0, elem_id="edit-line")
                boxes = [gr.Textbox(label=f or "-", lines=2, scale=3, visible=bool(f), elem_id=f"edit-field-{i}")
                         for i, f in enumerate(fields_of("stage1") + [""])]
            with gr.Row():
                get_btn = gr.Button("Load row into editor", size="sm")
                update_btn = gr.Button("Update row", size="sm", elem_id="edit-update")
                add_btn = gr.Button("Add as new row", size="sm", elem_id="edit-add")
                delete_btn = gr.Button("Delete row", size="sm", variant="stop", elem_id="edit-delete")
        with gr.Accordion("One row under every template (loss tokens highlighted)", open=False):
            tpl_btn = gr.Button("Render the row in 'Line' under every template", size="sm", elem_id="tpl-show")
            tpl_note = gr.Markdown(elem_id="tpl-note")
            tpl_views = []
            with gr.Row(elem_id="tpl-view"):
                for name, kind in template_names():
                    tpl_views.append(gr.HighlightedText(label=f"{name} ({kind} template)", show_legend=False,
                                                        show_inline_category=False, combine_adjacent=False,
                                                        color_map={"loss": "#86efac"}, min_width=300,
                                                        elem_classes=[f"tpl-{kind}"]))
        with gr.Row():
            name = gr.Textbox(label="Save as", placeholder="my_dataset", scale=3, elem_id="save-name")
            save_btn = gr.Button("Save dataset", variant="primary", scale=1, elem_id="save-btn")
        pairs = create_pairs_panel(tab)
        _wire(locals())
    return {"tab": tab, "attach": pairs["attach"]}


def _wire(c: dict) -> None:
    data, fmt, page, max_length = c["data"], c["fmt"], c["page"], c["max_length"]
    view_out = [c["preview"], c["page_info"], page, c["report"], c["summary"]]

    def loaded(new: dict, msg: str):
        fmt_value = new.get("format") or "stage1"
        return (new, fmt_value, msg, *views(new, fmt_value, 1, 256), *editor_updates(fmt_value, None), 1)

    def load_named(source, owner: str | None = None):
        if not source or not str(source).strip():
            return (gr.skip(),) * 2 + (notice("Pick a dataset, or type a Hub id such as user/name."),) + (
                gr.skip(),) * 9
        return loaded(*rows_from_source(source, owner=owner))

    def load_upload(path, owner: str | None = None):
        refused = caps.refusal("upload_mb", Path(path).stat().st_size / 2**20) if path else ""
        if not path or refused:
            return (gr.skip(),) * 2 + (notice(refused or "Upload a file first."),) + (gr.skip(),) * 9
        return loaded(*rows_from_source(path, Path(path).name, owner=owner, uploaded=True))

    load_out = [data, fmt, c["message"], *view_out, *c["boxes"], c["line"]]
    c["load_btn"].click(owned(load_named), c["starter"], load_out, api_name="load_dataset")
    c["upload"].upload(owned(load_upload), c["upload"], load_out, api_name="upload_dataset")
    c["hub_btn"].click(owned(load_named), c["hub_id"], load_out)

    refresh = dict(fn=views, inputs=[data, fmt, page, max_length], outputs=view_out, show_progress="hidden")
    fmt.input(**refresh)
    max_length.submit(**refresh)
    page.submit(**refresh)
    c["prev_btn"].click(lambda d, f, p, m: views(d, f, (p or 1) - 1, m), [data, fmt, page, max_length], view_out)
    c["next_btn"].click(lambda d, f, p, m: views(d, f, (p or 1) + 1, m), [data, fmt, page, max_length], view_out)

    def select_row(d: dict, f, evt: gr.SelectData):
        row = evt.row_value if evt and evt.row_value else None
        return (row[0], *editor_updates(f, d["rows"][index_of(d, row[0])])) if row and index_of(
            d, row[0]) is not None else (gr.skip(),) * 4

    c["preview"].select(select_row, [data, fmt], [c["line"], *c["boxes"]])
    c["get_btn"].click(lambda d, f, n: editor_updates(f, d["rows"][index_of(d, n)]) if index_of(d, n) is not None
                       else [gr.skip()] * 3, [data, fmt, c["line"]], c["boxes"])
    edit_in = [data, fmt, c["line"], max_length, *c["boxes"]]
    edit_out = [data, c["message"], c["line"], *view_out]
    c["update_btn"].click(lambda *a: edit_rows("update", *a), edit_in, edit_out)
    c["add_btn"].click(lambda *a: edit_rows("add", *a), edit_in, edit_out)
    c["delete_btn"].click(lambda *a: edit_rows("delete", *a), edit_in, edit_out)
    c["tpl_btn"].click(template_view, [data, fmt, c["line"]], [c["tpl_note"], *c["tpl_views"]])
    c["save_btn"].click(owned(save_dataset), [data, fmt, c["name"], max_length], c["message"], api_name="save_dataset")
    c["tab"].select(owned(dataset_picker), None, c["starter"], show_progress="hidden")


def dataset_picker(owner: str | None = None):
    return gr.update(choices=dataset_choices(owner))


def edit_rows(action: str, data: dict, fmt, line, max_length, *values):
    """Update, add or delete one row; returns the new state, a message, the line to show and the refreshed views."""
    fmt = fmt or data.get("format") or "stage1"
    fields = fields_of(fmt)
    new = {k: list(v) if isinstance(v, list) else v for k, v in data.items()}
    row = {f: v for f, v in zip(fields, values, strict=False) if f in FORMATS[fmt]["required"] or (v or "").strip()}
    i = index_of(new, line)
    if action == "add":
        new["lines"].append(max(new["lines"], default=0) + 1)
        new["rows"].append(row)
        new["errors"].append("")
        line, msg = new["lines"][-1], f"Added line {new['lines'][-1]}."
    elif i is None:
        return data, notice(f"There is no line {line}; pick one from the preview."), gr.skip(), *(
            gr.skip(),) * 5
    elif action == "update":
        new["rows"][i], new["errors"][i] = row, ""
        msg = f"Updated line {line}."
    else:
        for key in ("rows", "errors", "lines"):
            new[key].pop(i)
        msg = f"Deleted line {line}."
    if new.get("format") is None and new["rows"]:
        new["format"] = fmt
    position = index_of(new, line)
    page = 1 + (position if position is not None else 0) // PAGE_SIZE
    return new, msg, line, *views(new, fmt, page, max_length)
