"""Dataset statistics: counts, lengths, pass rates, rejects; PNG plots for cards.

Scans shards lazily with polars (images are never decoded), so it runs on datasets far
larger than memory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from omr_data.store import DatasetDir

# A cheap, tokenizer-free length: words and single punctuation marks. Roughly matches
# BPE token counts for English/LaTeX within ~30%, enough for histograms and filters' previews.
TOKEN_PATTERN = r"\w+|[^\w\s]"


def compute_stats(path: str | Path) -> dict[str, Any]:
    dataset = DatasetDir(path)
    stats: dict[str, Any] = {"path": str(dataset.path), "rows": 0, "rejected": 0}
    if dataset.shards:
        frame = _scan(dataset)
        stats.update(_record_stats(frame))
    rejects = _reject_counts(dataset)
    stats["rejected"] = sum(rejects.values())
    stats["rejects_by_reason"] = rejects
    if dataset.manifest:
        stats["stage"] = dataset.manifest.get("stage")
        stats["fingerprint"] = dataset.manifest.get("fingerprint")
    return stats


def _scan(dataset: DatasetDir) -> pl.LazyFrame:
    return pl.scan_parquet([str(p) for p in dataset.shards]).select(
        "source", "answer_type", "question", "response", "meta",
        pl.col("images").list.len().alias("n_images"),
    )


def _record_stats(frame: pl.LazyFrame) -> dict[str, Any]:
    tokens = lambda col: pl.col(col).fill_null("").str.count_matches(TOKEN_PATTERN)  # noqa: E731
    frame = frame.with_columns(
        question_tokens=tokens("question"),
        response_tokens=tokens("response"),
        pass_rate=pl.col("meta").str.json_path_match("$['verify.pass_rate']").cast(pl.Float64,
                                                                                    strict=False),
    ).collect()
    counts = lambda col: dict(sorted(  # noqa: E731
        (str(k), int(v)) for k, v in frame.group_by(col).len().iter_rows()))
    with_response = frame.filter(pl.col("response").is_not_null())
    stats = {
        "rows": frame.height,
        "by_source": counts("source"),
        "by_answer_type": counts("answer_type"),
        "images_per_row": counts("n_images"),
        "with_response": with_response.height,
        "question_tokens": _describe(frame["question_tokens"]),
        "response_tokens": _describe(with_response["response_tokens"]),
        "pass_rate": _describe(frame["pass_rate"].drop_nulls()),
    }
    stats["_hist"] = {
        "question_tokens": frame["question_tokens"].to_list(),
        "response_tokens": with_response["response_tokens"].to_list(),
        "pass_rate": frame["pass_rate"].drop_nulls().to_list(),
        "images_per_row": frame["n_images"].to_list(),
    }
    return stats


def _describe(series: pl.Series) -> dict[str, float] | None:
    if series.len() == 0:
        return None
    q = lambda p: float(series.quantile(p, interpolation="nearest"))  # noqa: E731
    return {"count": int(series.len()), "mean": round(float(series.mean()), 3),
            "min": float(series.min()), "p50": q(0.5), "p90": q(0.9), "max": float(series.max())}


def _reject_counts(dataset: DatasetDir) -> dict[str, int]:
    from omr_data.store import reason_kind
    if dataset.manifest is not None and "reject_reasons" in dataset.manifest:
        return dict(dataset.manifest["reject_reasons"])
    if not dataset.reject_shards:
        return {}
    frame = pl.scan_parquet([str(p) for p in dataset.reject_shards]).select("reason").collect()
    counts: dict[str, int] = {}
    for reason in frame["reason"].to_list():
        kind = reason_kind(reason)
        counts[kind] = counts.get(kind, 0) + 1
    return dict(sorted(counts.items()))


def write_plots(stats: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """Histograms and bar charts as PNG files; returns the paths written."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    hist = stats.get("_hist", {})

    def save(fig, name):
        path = out / name
        fig.tight_layout()
        fig.savefig(path, dpi=80)
        plt.close(fig)
        written.append(path)

    for key, title in (("question_tokens", "Question length (tokens)"),
                       ("response_tokens", "Response length (tokens)"),
                       ("pass_rate", "Pass rate per question")):
        values = hist.get(key) or []
        if not values:
            continue
        fig, ax = plt.subplots(figsize=(5, 3))
        ax.hist(values, bins=min(40, max(5, len(set(values)))), color="#4C72B0")
        ax.set_title(title)
        ax.set_ylabel("rows")
        save(fig, f"{key}.png")
    for key, title in (("by_source", "Rows per source"), ("by_answer_type", "Answer types"),
                       ("rejects_by_reason", "Rejects by reason")):
        counts = stats.get(key) or {}
        if not counts:
            continue
        fig, ax = plt.subplots(figsize=(5, 0.4 * len(counts) + 1.2))
        ax.barh(list(counts), list(counts.values()), color="#55A868")
        ax.set_title(title)
        save(fig, f"{key}.png")
    return written


def save_stats(stats: dict[str, Any], out_dir: str | Path) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "stats.json"
    path.write_text(json.dumps({k: v for k, v in stats.items() if not k.startswith("_")},
                               indent=2, sort_keys=True))
    return path


def format_stats(stats: dict[str, Any]) -> str:
    lines = [f"{stats['path']}: {stats['rows']} rows, {stats['rejected']} rejected"]
    for key in ("by_source", "by_answer_type", "images_per_row", "rejects_by_reason"):
        if stats.get(key):
            parts = ", ".join(f"{k}={v}" for k, v in stats[key].items())
            lines.append(f"  {key.replace('_', ' ')}: {parts}")
    for key in ("question_tokens", "response_tokens", "pass_rate"):
        d = stats.get(key)
        if d:
            lines.append(f"  {key.replace('_', ' ')}: mean {d['mean']}, p50 {d['p50']}, "
                         f"p90 {d['p90']}, max {d['max']} (n={d['count']})")
    return "\n".join(lines)
