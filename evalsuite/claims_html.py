"""claims.html: the judged claims (verdict, difference with its 95% interval drawn against zero and the margin, n,
rule, evidence) and the measured efficiency table, as one self-contained page.

    from evalsuite.claims_html import render_claims_html
    page = render_claims_html({"claims": [...], "efficiency": [...], "run_ids": {...}, "seconds": 12.0})
"""

import html

from evalsuite.stats import METHOD_NOTE

NOT_MEASURABLE = "not measurable"
COLOURS = {"held": "#1a7f37", "did not hold": "#cf222e", "inconclusive": "#9a6700", NOT_MEASURABLE: "#57606a"}
SVG_W, SVG_H = 180, 22  # the interval sketch; x spans a difference of -1 .. +1


def _fmt(value, digits=2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def signed(value: float) -> str:
    return f"{round(value, 2) + 0.0:+.2f}"  # + 0.0: no "-0.00" for a difference that rounds to zero


def _x(value: float) -> float:
    return round(SVG_W * (max(-1.0, min(1.0, value)) + 1) / 2, 1)


def interval_svg(claim: dict) -> str:
    """A small error bar: the difference (dot) and its 95% interval (line) on -1..+1, with zero (dark line) and
    ±margin (grey band), so a reader sees at a glance which side of zero and of the margin the interval lies."""
    interval, diff, margin = claim.get("interval"), claim.get("diff"), claim.get("margin")
    if interval is None or diff is None:
        return ""
    mid = SVG_H / 2
    band = (f"<rect x='{_x(-margin)}' y='2' width='{_x(margin) - _x(-margin)}' height='{SVG_H - 4}' fill='#eee'/>"
            if margin else "")
    colour = COLOURS.get(claim.get("verdict"), "#333")
    return (f"<svg width='{SVG_W}' height='{SVG_H}' role='img' aria-label='difference {diff:+.2f}, interval "
            f"{interval[0]:+.2f} to {interval[1]:+.2f}'>{band}"
            f"<line x1='{_x(0)}' x2='{_x(0)}' y1='0' y2='{SVG_H}' stroke='#333'/>"
            f"<line x1='{_x(interval[0])}' x2='{_x(interval[1])}' y1='{mid}' y2='{mid}' stroke='{colour}' "
            f"stroke-width='2'/>"
            + "".join(f"<line x1='{_x(v)}' x2='{_x(v)}' y1='{mid - 5}' y2='{mid + 5}' stroke='{colour}' "
                      f"stroke-width='2'/>" for v in interval)
            + f"<circle cx='{_x(diff)}' cy='{mid}' r='3' fill='{colour}'/></svg>")


def interval_label(claim: dict) -> str:
    """"+0.40 [+0.25, +0.55]": the difference and its 95% interval; "-" for a claim without an interval."""
    interval, diff = claim.get("interval"), claim.get("diff")
    if interval is None:
        return "-" if diff is None else f"{signed(diff)} (no interval)"
    return f"{signed(diff)} [{signed(interval[0])}, {signed(interval[1])}]"


def interval_cell(claim: dict) -> str:
    svg = interval_svg(claim)
    return interval_label(claim) + (f"<br>{svg}" if svg else "")


def _claim_row(c: dict) -> str:
    n = "" if c.get("n") is None else str(c["n"])
    if c.get("generations"):
        n += f" ({c['generations']} gen.)"
    return (f"<tr><td>{html.escape(c['stage'])}</td><td>{html.escape(c['claim'])}</td>"
            f"<td style='color:{COLOURS[c['verdict']]};font-weight:bold'>{c['verdict']}</td>"
            f"<td>{interval_cell(c)}</td><td>{n}</td><td>{html.escape(c['evidence'])}</td>"
            f"<td class='rule'>{html.escape((c.get('rule') or '').replace(' ' + METHOD_NOTE, ''))}</td></tr>")


def _quality_cell(r: dict) -> str:
    interval = r.get("quality_interval")
    ci = "" if interval is None else f" [{interval[0]:.2f}, {interval[1]:.2f}]"
    return f"{_fmt(r.get('quality'))}{ci} (n={r.get('quality_n', 0)})"


def _efficiency_cells(r: dict) -> str:
    share = "n/a" if r.get("memory_vs_full") is None else f"{100 * r['memory_vs_full']:.0f}%"
    return (f"<tr><td>{r['method']}</td><td>{_fmt(r.get('peak_memory_mb'), 0)} MB ({share})</td>"
            f"<td>{_fmt(r.get('trainable_pct'))}%</td><td>{_fmt(r.get('tokens_per_second'), 0)} "
            f"({_fmt(r.get('speed_vs_full'))}x)</td><td>{_fmt(r.get('artifact_mb'), 1)} MB</td>"
            f"<td>{_quality_cell(r)}</td></tr>")


def render_claims_html(result: dict) -> str:
    claim_rows = "".join(_claim_row(c) for c in result["claims"])
    eff_rows = "".join(_efficiency_cells(r) for r in result["efficiency"])
    return (f"<!doctype html><meta charset='utf-8'><title>Seed claims, measured</title>"
            f"<style>body{{font-family:sans-serif;max-width:1300px;margin:2em auto}}td,th{{border:1px solid #ccc;"
            f"padding:4px 8px;vertical-align:top}}table{{border-collapse:collapse}}td.rule{{font-size:12px;"
            f"color:#555;max-width:22em}}</style>"
            f"<h1>The seed's claims, measured</h1><p>Runs: {html.escape(str(result['run_ids']))}; "
            f"total time {result['seconds']:.0f} s. Full evaluation: <a href='eval/report.html'>eval/report.html</a>"
            f"</p><p>Difference: the second named side minus the first, with its 95% paired bootstrap interval over "
            f"queries (sketch: -1 to +1, dark line at 0, grey band ±margin). n: queries compared (generations). "
            f"Every interval rule: {html.escape(METHOD_NOTE)}</p>"
            f"<table><tr><th>stage</th><th>claim</th><th>verdict</th><th>difference [95% interval]</th><th>n</th>"
            f"<th>evidence</th><th>rule</th></tr>{claim_rows}</table>"
            f"<h2>Efficiency table, measured (runs on the same base model and dataset; full = the Stage 2 run)</h2>"
            f"<table><tr><th>method</th><th>peak memory</th><th>trainable</th><th>tokens/s</th><th>artifact</th>"
            f"<th>mean suite score [95% interval] (n queries)</th></tr>{eff_rows}</table>")
