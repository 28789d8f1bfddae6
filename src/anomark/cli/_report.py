"""How a detection is reported: the summary lines, the events table, the anomalies CSV and
the figure's bytes."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from anomark.detection import Detection
    from anomark.detectors.base import Detector
    from anomark.threshold import Threshold

__all__ = [
    "PLOT_FORMATS",
    "anomalies_csv",
    "describe_detector",
    "describe_threshold",
    "events_table",
    "figure_bytes",
    "format_scores",
    "scores_csv",
    "seasonal_lines",
]

PLOT_FORMATS = (".png", ".svg", ".pdf", ".jpg", ".jpeg")


def describe_detector(det: Detector, hide: frozenset[str] = frozenset()) -> str:
    """``ClassName(param=value, ...)`` with the parameters that differ from the defaults (the
    threshold is reported on its own line; ``hide`` leaves out parameters the CLI set)."""
    defaults = type(det)().get_params(deep=False)  # constructors only store their arguments
    shown = [
        f"{key}={value!r}"
        for key, value in det.get_params(deep=False).items()
        if key != "threshold" and key not in hide
        and not (key in defaults and _same(defaults[key], value))
    ]
    return f"{type(det).__name__}({', '.join(shown)})"


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) and type(a) is type(b)
    except (TypeError, ValueError):  # pragma: no cover - arrays and the like
        return False


def seasonal_lines(det: Detector) -> list[str]:
    """``seasonal: ...`` describing the detector's fitted seasonal stage (none without one)."""
    stage = getattr(det, "seasonal_", None)
    return [] if stage is None else [f"seasonal:  {stage.describe()}"]


def describe_threshold(rule: Threshold) -> str:
    """The rule without its fitted value, e.g. ``Threshold.mean_std(k=3)``."""
    return repr(rule.unfitted())


def events_table(detection: Detection, limit: int) -> str:
    """The flagged events (the ``limit`` strongest, in time order) as an aligned table."""
    events = detection.events
    if events.empty:
        return "no anomalies flagged"
    rows = [("#", "start", "end", "points", "peak time", "peak score")]
    shown = events
    if len(events) > limit:  # the strongest events, still in time order
        shown = events.nlargest(limit, "peak_score").sort_index()
    for i, row in zip(shown.index + 1, shown.itertuples(index=False), strict=True):
        rows.append(
            (
                str(i), str(row.start), str(row.end), str(row.n_points), str(row.peak_time),
                f"{row.peak_score:.4g}",
            )
        )
    widths = [max(len(r[j]) for r in rows) for j in range(len(rows[0]))]
    right = {0, 3, 5}
    lines = [
        "  ".join(
            cell.rjust(widths[j]) if j in right else cell.ljust(widths[j])
            for j, cell in enumerate(r)
        ).rstrip()
        for r in rows
    ]
    if len(events) > limit:
        lines.append(
            f"(the {limit} strongest of {len(events)} events; all flagged points are in the "
            "anomalies CSV; show more with --max-events)"
        )
    return "\n".join(lines)


def format_scores(scores: dict[str, Any], n_windows: int) -> str:
    """One line of event precision / recall / F1 (:func:`anomark.evaluation.event_scores`)."""
    counted = scores["n_windows"]
    within = f" ({counted} within the data)" if counted != n_windows else ""
    return (
        f"labelled windows: {n_windows}{within}; event precision {scores['precision']:.3f}, "
        f"recall {scores['recall']:.3f}, F1 {scores['f1']:.3f} ({scores['detected']} of "
        f"{counted} windows detected, {scores['false_alarms']} false alarm(s))"
    )


def anomalies_csv(detection: Detection) -> bytes:
    """The flagged points: timestamp, event number, score and the values of every column."""
    import numpy as np
    import pandas as pd

    table = detection.anomalies
    flags = detection.flags.to_numpy()
    edges = np.diff(np.concatenate(([0], flags.astype(np.int8))))
    event_ids = np.cumsum(edges == 1)[flags]
    out = pd.DataFrame({"event": event_ids, "score": table["score"].to_numpy()}, index=table.index)
    values = table.drop(columns=["score"])
    values.columns = [c if c != "event" else f"value.{c}" for c in values.columns]
    out = pd.concat([out, values], axis=1)
    out.index.name = detection.scores.index.name or "timestamp"
    buffer = io.StringIO()
    out.to_csv(buffer, float_format="%.10g")
    return buffer.getvalue().encode("utf-8")


def scores_csv(detection: Detection) -> bytes:
    """Every row: timestamp, score and flag (1/0), what ``anomark evaluate`` reads."""
    import pandas as pd

    out = pd.DataFrame({"score": detection.scores.to_numpy(),
                        "flag": detection.flags.to_numpy().astype(int)},
                       index=detection.scores.index)
    out.index.name = detection.scores.index.name or "timestamp"
    buffer = io.StringIO()
    out.to_csv(buffer, float_format="%.17g")
    return buffer.getvalue().encode("utf-8")


def figure_bytes(fig: Any, suffix: str) -> bytes:
    """A matplotlib figure rendered in the format of a file suffix (``.png``, ``.svg``...)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format=suffix.lstrip(".").replace("jpg", "jpeg"), dpi=110)
    return buffer.getvalue()
