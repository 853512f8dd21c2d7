"""A torchinfo-style text table of a design, computed analytically."""

from __future__ import annotations

from designer.core.analysis import Analysis, analyze
from designer.core.blocks import format_shape, summary_label
from designer.core.graph import Graph

COLUMNS = ("Layer", "Type", "Output shape", "Params", "% params", "MACs")


def summary_row(block, report, no_params: str = "0") -> tuple[str, ...]:
    """One table row (the COLUMNS) for a block: what `info` prints and the window's table shows."""
    if report.error:
        shape = f"error: {report.error}"
    elif report.blocked_by:
        shape = f"? (after {report.blocked_by})"
    else:
        shape = format_shape(report.output_shape)
    return (
        block.id,
        summary_label(block.type_id, block.params),
        shape,
        f"{report.params:,}" if report.params else no_params,
        f"{report.share:.1%}" if report.params else "",
        f"{report.macs:,}" if report.macs else "",
    )


def summary_rows(graph: Graph, analysis: Analysis | None = None) -> list[tuple[str, ...]]:
    analysis = analysis or analyze(graph)
    return [summary_row(graph.block(block_id), report) for block_id, report in analysis.reports.items()]


def summary_text(graph: Graph, analysis: Analysis | None = None) -> str:
    analysis = analysis or analyze(graph)
    rows = [COLUMNS] + summary_rows(graph, analysis)
    widths = [max(len(row[column]) for row in rows) for column in range(len(COLUMNS))]
    right = {3, 4, 5}

    def line(row) -> str:
        cells = [cell.rjust(width) if index in right else cell.ljust(width)
                 for index, (cell, width) in enumerate(zip(row, widths))]
        return "  ".join(cells).rstrip()

    rule = "=" * len(line(rows[0]))
    out = [f"{graph.name}", rule, line(rows[0]), "-" * len(rule)]
    out += [line(row) for row in rows[1:]]
    out += [
        rule,
        f"Total parameters: {analysis.total_params:,}",
        f"Total MACs: {analysis.total_macs:,}",
        f"Activations per sample: {analysis.total_activations:,} values",
        f"FC layers: {analysis.fc_params:,} of {analysis.total_params:,} parameters ({analysis.fc_share:.1%})",
    ]
    for problem in analysis.problems:
        out.append(f"Problem: {problem}")
    return "\n".join(out)
