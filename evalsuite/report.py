"""Turn scored result rows into report.json, report.csv and a self-contained report.html.

Usage:

    from evalsuite.report import write_report, build_report, build_figures
    paths = write_report(rows, "outputs/eval/2024-06-01", meta={"suite_version": "1.0"})
    # -> {"json": .../report.json, "csv": .../report.csv, "summary_csv": .../summary.csv, "html": .../report.html}
    figs = build_figures(json.load(open(paths["json"])))   # the same plotly figures, e.g. for gr.Plot

A result row (one generation) has: model, query_id, category, variant ("p0", "tpl:alpaca", ...), variant_kind
("paraphrase" | "seen_template" | "heldout_template"), prompt, answer, score (float in [0, 1]), passed (bool),
why (str), and optionally extra (dict) and check (the query's check, shown in the example browser).

report.json = {"summary": model -> category -> {score (the mean over the rows), ci_low, ci_high (its 95% bootstrap
interval resampling queries with their variants together, evalsuite/stats.py; None below 2 queries), n (queries),
generations (rows)}, "robustness": model -> metrics (robustness.py), "results": the rows, "meta": what the caller
passed}. summary.csv holds the same summary, one line per model x category. The HTML inlines plotly.js once
(about 5 MB), so it opens offline, and ends with a filterable, sortable table of every example.
"""

import csv
import html
import json
from collections import defaultdict
from pathlib import Path

import plotly.graph_objects as go

from evalsuite.robustness import KINDS, model_robustness
from evalsuite.stats import mean_interval
from evalsuite.suite import CATEGORIES, load_suite

ROW_KEYS = ("model", "query_id", "category", "variant", "variant_kind", "prompt", "answer", "score", "passed", "why")
CSV_FIELDS = ["model", "query_id", "category", "variant", "variant_kind", "score", "passed", "prompt", "answer",
              "why", "extra"]
SUMMARY_FIELDS = ["model", "category", "score", "ci_low", "ci_high", "n", "generations"]
KIND_LABELS = {"paraphrase": "paraphrases", "seen_template": "seen templates",
               "heldout_template": "held-out templates"}


def _ordered(values) -> list:
    return list(dict.fromkeys(values))


def summarize(results: list[dict]) -> dict:
    """model -> category -> {score, ci_low, ci_high, n, generations}: the mean over all that model's rows in the
    category (every variant counts), its 95% interval resampling queries with their variants (evalsuite.stats;
    None below 2 queries), n the queries and generations the rows."""
    clusters = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for r in results:
        clusters[r["model"]][r["category"]][r["query_id"]].append(float(r["score"]))
    cats = [c for c in CATEGORIES if any(c in v for v in clusters.values())]
    cats += sorted({c for v in clusters.values() for c in v} - set(cats))
    return {m: {c: mean_interval(clusters[m][c]) for c in cats if c in clusters[m]}
            for m in _ordered(r["model"] for r in results)}


def build_report(results: list[dict], meta: dict | None = None) -> dict:
    for i, r in enumerate(results):
        missing = [k for k in ROW_KEYS if k not in r]
        if missing:
            raise ValueError(f"result row {i} lacks {missing} (a row needs {', '.join(ROW_KEYS)})")
    return {"summary": summarize(results), "robustness": model_robustness(results), "results": list(results),
            "meta": dict(meta or {})}


def interval_text(cell: dict | None) -> str:
    """One summary cell as people read it: "0.62 [0.48, 0.75], n=12 queries, 54 generations"."""
    if not cell or cell.get("score") is None:
        return "not run"
    if cell.get("ci_low") is None:
        return f"{cell['score']:.2f} from too few queries (n={cell['n']}), no interval"
    return (f"{cell['score']:.2f} [{cell['ci_low']:.2f}, {cell['ci_high']:.2f}], n={cell['n']} queries, "
            f"{cell['generations']} generations")


def interval_bars(name: str, x: list, cells: list) -> go.Bar:
    """One model's bars with 95% error bars and n; a cell without an interval (fewer than 2 queries) gets no bar
    (see `too_few_notes`), so a single query never looks like a measured score."""
    ok = [bool(c) and c.get("ci_low") is not None for c in cells]
    shown = [(c, good) for c, good in zip(cells, ok, strict=True)]
    return go.Bar(name=name, x=x, y=[c["score"] if good else None for c, good in shown],
                  error_y={"type": "data", "visible": True,
                           "array": [c["ci_high"] - c["score"] if good else 0 for c, good in shown],
                           "arrayminus": [c["score"] - c["ci_low"] if good else 0 for c, good in shown]},
                  # "auto": inside a bar, or above one too short to hold it (a score of 0 still shows its n)
                  text=[f"n={c['n']}" if good else "" for c, good in shown], textposition="auto",
                  insidetextanchor="start", hovertext=[interval_text(c) for c in cells],
                  hovertemplate="%{fullData.name} / %{x}<br>%{hovertext}<extra></extra>")


def too_few_notes(fig: go.Figure, x: list, columns: dict) -> None:
    """Write "too few queries (n=1)" over each x whose cells (model -> cell) lack an interval, in place of a bar."""
    for i, label in enumerate(x):
        few = {m: c[i]["n"] for m, c in columns.items() if c[i] and c[i].get("ci_low") is None}
        if not few:
            continue
        counts = sorted(set(few.values()))
        who = "" if len(few) == len(columns) else ": " + ", ".join(few)
        # upright, from the axis up: fits a narrow category however many models share it
        fig.add_annotation(x=label, y=0.02, yanchor="bottom", textangle=-90, showarrow=False,
                           font={"size": 11, "color": "#57606a"},
                           text=f"too few queries{who} (n={'/'.join(map(str, counts))})")


def _kind_cells(rob: dict, model: str) -> list[dict | None]:
    """Per variant kind, the mean of per-query means (as robustness.py reports it) with its interval over queries."""
    per_query = rob[model].get("per_query") or {}
    cells = []
    for kind in KINDS:
        means = {q: [m[kind]["mean"]] for q, m in per_query.items() if kind in m}
        cells.append(mean_interval(means) if means else None)
    return cells


def build_figures(report: dict) -> dict:
    """{"scores": bars per category per model with 95% intervals, "robustness": model x query heatmap of the mean
    score across variants, "by_kind": mean score on paraphrases / seen templates / held-out templates per model}."""
    summary, rob = report["summary"], report["robustness"]
    if any(not isinstance(cell, dict) for cats in summary.values() for cell in cats.values()):
        summary = summarize(report["results"])  # a report.json written before intervals: bare means, so recompute
    cats = _ordered(c for m in summary.values() for c in m)
    columns = {m: [summary[m].get(c) for c in cats] for m in summary}
    scores = go.Figure([interval_bars(m, cats, cells) for m, cells in columns.items()])
    too_few_notes(scores, cats, columns)
    scores.update_layout(title="Mean score per category (95% interval over queries; n = queries)",
                         barmode="group", yaxis={"range": [0, 1.05], "title": "score"})

    models = list(rob)
    qids = _ordered(r["query_id"] for r in report["results"])
    z, text = [], []
    for m in models:
        pq = rob[m]["per_query"]
        z.append([pq[q]["overall"]["mean"] if q in pq else None for q in qids])
        text.append([_cell_hover(pq.get(q)) for q in qids])
    heat = go.Figure(go.Heatmap(z=z, x=qids, y=models, zmin=0, zmax=1, colorscale="RdYlGn", text=text,
                                hovertemplate="%{y} / %{x}<br>%{text}<extra></extra>"))
    heat.update_layout(title="Mean score across variants (model x query); hover for consistency and spread",
                       xaxis={"tickangle": -60}, height=300 + 30 * len(models))

    labels = [KIND_LABELS[k] for k in KINDS]
    kind_columns = {m: _kind_cells(rob, m) for m in models}
    by_kind = go.Figure([interval_bars(m, labels, cells) for m, cells in kind_columns.items()])
    too_few_notes(by_kind, labels, kind_columns)
    by_kind.update_layout(title="Mean score by variant kind (95% interval over queries)", barmode="group",
                          yaxis={"range": [0, 1.05]})
    return {"scores": scores, "robustness": heat, "by_kind": by_kind}


def _cell_hover(q: dict | None) -> str:
    if not q:
        return "not run"
    o = q["overall"]
    cons = "n/a" if o["consistency"] is None else f"{o['consistency']:.2f}"
    return f"mean {o['mean']:.2f}, worst {o['worst']:.2f}, spread {o['spread']:.2f}, consistency {cons}, n {o['n']}"


def check_summary(check: dict | None) -> str:
    """A one-line description of a query's check for the example browser."""
    if not check:
        return ""
    kind = check.get("type")
    if kind == "exact":
        return "exact: " + " | ".join(check["answers"])
    if kind == "numeric":
        return f"numeric: {check['answer']}" + (f" {check['units'][0]}" if check.get("units") else "")
    if kind == "constraints":
        parts = [" ".join([c["kind"]] + [f"{k}={v}" for k, v in c.items() if k != "kind"])
                 for c in check["constraints"]]
        return "constraints: " + "; ".join(parts)
    if kind == "code":
        return f"code: {check['function']}() with {len(check['tests'])} tests"
    return json.dumps(check)[:200]


def _suite_checks() -> dict:
    # Rows usually don't carry their check; look it up in the shipped suite (best effort: reports stay writable
    # even if the suite moved on).
    try:
        return {q.id: q.check for q in load_suite()}
    except (OSError, ValueError):
        return {}


def write_csv(results: list[dict], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS, extrasaction="ignore")
        w.writeheader()
        for r in results:
            w.writerow({**r, "extra": json.dumps(r.get("extra") or {}, sort_keys=True)})


def write_summary_csv(summary: dict, path: Path) -> None:
    """One line per model x category: the score, its interval and its counts (report.csv is one line per answer)."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=SUMMARY_FIELDS)
        w.writeheader()
        for model, cats in summary.items():
            for category, cell in cats.items():
                w.writerow({"model": model, "category": category, **cell})


def write_report(results: list[dict], out_dir, meta: dict | None = None) -> dict:
    """Write report.json, report.csv (every answer), summary.csv (every score with its interval) and report.html
    into out_dir; returns {"json", "csv", "summary_csv", "html"} paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = build_report(results, meta)
    paths = {"json": out / "report.json", "csv": out / "report.csv", "summary_csv": out / "summary.csv",
             "html": out / "report.html"}
    paths["json"].write_text(json.dumps(report, indent=1, ensure_ascii=False, default=str), encoding="utf-8")
    write_csv(results, paths["csv"])
    write_summary_csv(report["summary"], paths["summary_csv"])
    paths["html"].write_text(render_html(report), encoding="utf-8")
    return paths


def _summary_cell(cell: dict | None) -> str:
    if not cell:
        return "<td></td>"
    counts = f"<br><small>n={cell['n']} queries, {cell['generations']} generations</small>"
    if cell.get("ci_low") is None:
        return f"<td>{cell['score']:.2f}<br><small>too few queries (n={cell['n']}), no interval</small></td>"
    return f"<td>{cell['score']:.2f} [{cell['ci_low']:.2f}, {cell['ci_high']:.2f}]{counts}</td>"


def _summary_table(summary: dict) -> str:
    cats = _ordered(c for m in summary.values() for c in m)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cats)
    body = "".join(f"<tr><td>{html.escape(m)}</td>" + "".join(_summary_cell(summary[m].get(c)) for c in cats)
                   + "</tr>" for m in summary)
    return f"<table class='summary'><tr><th>model</th>{head}</tr>{body}</table>"


def _example_rows(results: list[dict]) -> str:
    checks = _suite_checks() if any("check" not in r for r in results) else {}
    cells = []
    for r in results:
        check = r.get("check") or checks.get(r["query_id"])
        status = "pass" if r["passed"] else "fail"
        values = [r["model"], r["query_id"], r["category"], r["variant"], r.get("variant_kind", ""),
                  r.get("prompt", ""), r.get("answer", ""), check_summary(check), status, f"{float(r['score']):.2f}",
                  r.get("why", "")]
        tds = "".join(f"<td><div>{html.escape(str(v))}</div></td>" for v in values)
        cells.append(f"<tr class='{status}'>{tds}</tr>")
    return "\n".join(cells)


def render_html(report: dict) -> str:
    figs = build_figures(report)
    plots = "".join(fig.to_html(full_html=False, include_plotlyjs=(i == 0), div_id=f"fig-{name}")
                    for i, (name, fig) in enumerate(figs.items()))
    results = report["results"]
    options = {col: _ordered(str(r.get(key, "")) for r in results)
               for col, key in [(0, "model"), (2, "category"), (4, "variant_kind")]}
    selects = "".join(
        f"<select data-col='{col}' onchange='filt()'><option value=''>all {name}</option>"
        + "".join(f"<option>{html.escape(v)}</option>" for v in vals) + "</select>"
        for (col, vals), name in zip(options.items(), ["models", "categories", "kinds"], strict=True))
    meta = html.escape(json.dumps(report.get("meta", {}), ensure_ascii=False, default=str))
    headers = ["model", "query", "category", "variant", "kind", "prompt", "answer", "check", "result", "score", "why"]
    ths = "".join(f"<th onclick='sortBy({i})'>{h}</th>" for i, h in enumerate(headers))
    return PAGE.format(summary=_summary_table(report["summary"]), plots=plots, selects=selects, meta=meta, ths=ths,
                       rows=_example_rows(results), n=len(results))


PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Evaluation report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; }}
table {{ border-collapse: collapse; font-size: 13px; }}
td, th {{ border: 1px solid #ccc; padding: 3px 6px; vertical-align: top; }}
th {{ background: #f3f3f3; cursor: pointer; }}
#examples td {{ white-space: pre-wrap; max-width: 28em; }}
#examples td div {{ max-height: 12em; overflow: auto; }}
tr.pass td:nth-child(9) {{ color: #060; font-weight: bold; }}
tr.fail td:nth-child(9) {{ color: #b00; font-weight: bold; }}
.meta {{ color: #555; font-size: 12px; }}
</style></head><body>
<h1>Evaluation report</h1>
<p class="meta">{meta}</p>
<h2>Summary (mean score per category, [95% interval over queries], n queries and generations)</h2>
{summary}
{plots}
<h2>Examples (<span id="shown">{n}</span> of {n})</h2>
<p>{selects}
<select id="status" onchange="filt()"><option value="">pass and fail</option><option>pass</option>
<option>fail</option></select>
<input id="q" placeholder="search text" oninput="filt()"></p>
<table id="examples"><thead><tr>{ths}</tr></thead><tbody>
{rows}
</tbody></table>
<script>
function filt() {{
  const sels = [...document.querySelectorAll("select[data-col]")];
  const status = document.getElementById("status").value, q = document.getElementById("q").value.toLowerCase();
  let shown = 0;
  for (const tr of document.querySelectorAll("#examples tbody tr")) {{
    const td = tr.children;
    let ok = sels.every(s => !s.value || td[+s.dataset.col].textContent === s.value);
    ok = ok && (!status || td[8].textContent === status) && (!q || tr.textContent.toLowerCase().includes(q));
    tr.style.display = ok ? "" : "none";
    shown += ok;
  }}
  document.getElementById("shown").textContent = shown;
}}
let lastCol = -1, asc = true;
function sortBy(col) {{
  asc = col === lastCol ? !asc : true; lastCol = col;
  const body = document.querySelector("#examples tbody");
  const rows = [...body.rows];
  const key = r => r.children[col].textContent;
  const num = rows.every(r => key(r) !== "" && !isNaN(key(r)));
  rows.sort((a, b) => (num ? key(a) - key(b) : key(a).localeCompare(key(b))) * (asc ? 1 : -1));
  rows.forEach(r => body.appendChild(r));
}}
</script>
</body></html>
"""
