"""Per-submission feedback as one self-contained HTML page: points per task, status, messages,
the student's own outputs, and a bar chart of points per task (PNG, embedded).

Never the tests' source: outputs of hidden tests are already blank when grading stores them, and
only the student's own cells carry code.

The page is served by jupyter_server, whose API handlers send ``default-src 'none'``: a browser then
drops inline styles and ``data:`` images. The page therefore keeps all its style in one fixed
``<style>`` block (no ``style=`` attributes) and ``CSP`` allows exactly that block, by its hash, and
``data:`` images, nothing else: no script, no remote fetch, so a student's output can never run.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
from typing import Any

STATUS_COLOURS = {"passed": "#2e7d32", "failed": "#c62828", "error": "#c62828", "manual": "#6d6d6d"}
OTHER_COLOUR = "#ef6c00"  # timeout, memory, killed, missing
STYLE = ("body{font-family:sans-serif;max-width:60em;margin:auto;padding:0 1em}table{border-collapse:collapse}"
         "td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top}pre{background:#f6f6f6;padding:6px;"
         "white-space:pre-wrap}pre.stderr,pre.error{background:#fff0f0}img{max-width:100%}"
         + f".status{{color:{OTHER_COLOUR}}}"  # first: a known status's own colour comes after it and wins
         + "".join(f".status-{name}{{color:{colour}}}" for name, colour in STATUS_COLOURS.items()))
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
# What the page needs on top of jupyter_server's policy (``default-src 'none'``): its one style block
# and its embedded chart.
CSP = f"style-src 'sha256-{_STYLE_HASH}'; img-src data:; base-uri 'none'; form-action 'none'"


def chart_png(tasks: list[dict[str, Any]]) -> bytes:
    """Points and maximum per task as a horizontal bar chart (matplotlib, Agg: no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 0.4 * len(tasks) + 1), dpi=80)
    ax = fig.subplots()
    names = [t["id"] for t in tasks][::-1]
    ax.barh(names, [t["max_points"] for t in tasks][::-1], color="#e0e0e0", label="possible")
    ax.barh(names, [t["points"] for t in tasks][::-1], color="#1565c0", label="earned")
    ax.set_xlabel("points")
    ax.legend(loc="lower right")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def render(sub: dict[str, Any], chart: bool = True) -> str:
    e = html.escape
    rows = []
    for t in sub["tasks"]:
        status = f"status status-{t['status']}" if t["status"] in STATUS_COLOURS else "status"
        note = f"<br><em>{e(t['comment'])} — {e(t['adjusted_by'])}</em>" if t.get("adjusted_by") else ""
        rows.append(f"<tr><td>{e(t['id'])}</td><td>{t['points']:g} / {t['max_points']:g}</td>"
                    f"<td class='{status}'>{e(t['status'])}</td><td>{e(t['message'])}{note}</td></tr>")
    outputs = []
    for out in sub.get("outputs", []):
        parts = [f"<pre class='code'>{e(out['code'])}</pre>" if out.get("code") else ""]
        for stream in ("stdout", "stderr", "error"):
            if out.get(stream):
                parts.append(f"<pre class='{stream}'>{e(out[stream])}</pre>")
        for item in out.get("display", []):
            text = item.get("text/plain")
            if text:
                parts.append(f"<pre class='display'>{e(text)}</pre>")
        body = "".join(parts)
        if body:
            label = e(out.get("grade_id") or "your cell")
            outputs.append(f"<section><h3>{label} <small>({e(out.get('status', ''))})</small></h3>{body}</section>")
    penalty = (f"<p>Late by {sub['late_s'] / 3600:.1f} h: {sub['penalty'] * 100:g}% taken off "
               f"({sub['raw_score']:g} before the penalty).</p>") if sub.get("penalty") else ""
    manual = "<p>Some answers still await the instructor's review.</p>" if sub.get("needs_manual") else ""
    if sub.get("status") != "graded":
        manual += f"<p><strong>Not graded ({e(sub.get('status', ''))}).</strong> {e(sub.get('message', ''))}</p>"
    image = ""
    if chart and sub["tasks"]:
        data = base64.b64encode(chart_png(sub["tasks"])).decode()
        image = f"<img alt='points per task' src='data:image/png;base64,{data}'>"
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Feedback: {e(sub['lab'])} — {e(sub['student'])}</title>
<style>{STYLE}</style></head><body>
<h1>{e(sub['course'])} / {e(sub['lab'])}: {e(sub['student'])}</h1>
<p>Score <strong>{sub['score']:g} / {sub['max_score']:g}</strong>; submitted {e(sub['submitted'])}.</p>
{penalty}{manual}{image}
<table><tr><th>task</th><th>points</th><th>status</th><th>message</th></tr>
{''.join(rows)}</table>
<h2>Your outputs</h2>
{''.join(outputs) or '<p>No output.</p>'}
</body></html>
"""
