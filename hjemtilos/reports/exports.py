"""A report's tables as CSV (one file a table; stable ASCII headers) and as SVG charts drawn by matplotlib on the
server. A value shown as "< 5" is drawn as no bar (with "< 5" written beside it in bar charts)."""

from __future__ import annotations

import csv
import io
import threading
from html import escape

from hjemtilos.reports.figures import Table

__all__ = ["table_csv", "table_svg"]

COLOURS = ("#c8102e", "#3d6b99", "#6a994e", "#c9a227", "#7b5ea7", "#8c8c8c")  # Red Barnet red first
_DRAWING = threading.Lock()  # pyplot keeps global state: one chart at a time


def table_csv(table: Table) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([column.key for column in table.columns])
    for row in table.rows:
        writer.writerow(row)
    return buffer.getvalue()


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def table_svg(table: Table) -> str:
    """The table's chart: grouped horizontal bars (one group a row), or stacked columns for months."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    labels = [" · ".join(str(value) for value in row[:table.label_columns]) for row in table.rows]
    series = [(index, table.columns[index]) for index in table.drawn]
    vertical = table.chart in ("stacked", "columns")
    with _DRAWING:
        plt.rcParams.update({"svg.fonttype": "none", "font.size": 9, "font.family": "DejaVu Sans"})
        height = 2.8 if vertical else max(1.8, 0.3 * len(labels) * max(1, len(series)) + 0.9)
        figure, axes = plt.subplots(figsize=(7.5, height))
        try:
            if table.chart == "stacked":
                bottom = [0.0] * len(labels)
                for colour, (index, column) in zip(COLOURS, series, strict=False):
                    values = [_number(row[index]) for row in table.rows]
                    axes.bar(labels, values, bottom=bottom, color=colour, label=f"{column.da} / {column.en}")
                    bottom = [b + v for b, v in zip(bottom, values, strict=True)]
            elif table.chart == "columns":
                width = 0.8 / max(1, len(series))
                for n, (colour, (index, column)) in enumerate(zip(COLOURS, series, strict=False)):
                    axes.bar([i + n * width for i in range(len(labels))], [_number(r[index]) for r in table.rows],
                             width=width, color=colour, label=f"{column.da} / {column.en}")
                axes.set_xticks([i + width * (len(series) - 1) / 2 for i in range(len(labels))], labels)
            else:
                width = 0.8 / max(1, len(series))
                for n, (colour, (index, column)) in enumerate(zip(COLOURS, series, strict=False)):
                    positions = [i + n * width for i in range(len(labels))]
                    values = [_number(row[index]) for row in table.rows]
                    bars = axes.barh(positions, values, height=width, color=colour,
                                     label=f"{column.da} / {column.en}")
                    axes.bar_label(bars, labels=[str(row[index]) for row in table.rows], padding=2, fontsize=8)
                axes.set_yticks([i + width * (len(series) - 1) / 2 for i in range(len(labels))], labels)
                axes.invert_yaxis()
            if vertical:
                axes.tick_params(axis="x", labelrotation=45)
            if not table.rows:
                axes.text(0.5, 0.5, "Ingen i perioden / none in the period", ha="center", va="center",
                          transform=axes.transAxes)
            axes.spines[["top", "right"]].set_visible(False)
            if len(series) > 1:
                axes.legend(fontsize=8, frameon=False, loc="best")
            axes.set_title(f"{table.da} / {table.en}", fontsize=10, loc="left")
            figure.tight_layout()
            out = io.StringIO()
            figure.savefig(out, format="svg", metadata={"Date": None})
        finally:
            plt.close(figure)
    return out.getvalue().replace("<svg ", f'<svg role="img" aria-label="{escape(table.da)} / {escape(table.en)}" ', 1)
