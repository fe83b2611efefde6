"""Dataset statistics: counts, lengths, pass rates, rejects, answer diversity; PNG plots.

Works on a stage's dataset directory (records in `data/*.parquet`) and on a published
Hub-layout repository (SFT `messages` / RL `prompt` rows, configs as its README declares
them). Scans shards lazily with polars or batch by batch with pyarrow (images are never
decoded), so it runs on datasets far larger than memory.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq
import yaml

from omr_data.diversity import Tally
from omr_data.store import DatasetDir, reason_kind

if TYPE_CHECKING:   # polars loads where it is used (see pyproject's ruff bans)
    import polars as pl

# A cheap, tokenizer-free length: words and single punctuation marks. Roughly matches
# BPE token counts for English/LaTeX within ~30%, enough for histograms and filters' previews.
TOKEN_PATTERN = r"\w+|[^\w\s]"


def compute_stats(path: str | Path) -> dict[str, Any]:
    if is_published_repo(path):
        return published_stats(path)
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
    import polars as pl
    return pl.scan_parquet([str(p) for p in dataset.shards]).select(
        "id", "source", "answer_type", "question", "response", "meta",
        pl.col("images").list.len().alias("n_images"),
    )


def _record_stats(frame: pl.LazyFrame) -> dict[str, Any]:
    import polars as pl
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
    stats.update(_diversity(frame, with_response))
    stats["_hist"] = {
        "question_tokens": frame["question_tokens"].to_list(),
        "response_tokens": with_response["response_tokens"].to_list(),
        "pass_rate": frame["pass_rate"].drop_nulls().to_list(),
        "images_per_row": frame["n_images"].to_list(),
    }
    return stats


def _diversity(frame: pl.DataFrame, with_response: pl.DataFrame) -> dict[str, Any]:
    """Distinct traces per question, for rows that are traces of a question (`id#k`)."""

    tally = Tally()
    for rid, response in with_response.select("id", "response").iter_rows():
        if "#" in rid:
            tally.add(rid, response)
    return {"diversity": tally.summary()} if len(tally) else {}


# ---------------------------------------------------------------------------------------
# A published repository (the layout `datasets.push_to_hub` writes)


def is_published_repo(path: str | Path) -> bool:
    """A folder whose README declares `configs:` or whose shards hold published rows."""
    root = Path(path)
    if (root / "manifest.json").is_file():
        return False
    if _readme_configs(root):
        return True
    shards = sorted((root / "data").glob("*.parquet"))
    if not shards:
        return False
    names = set(pq.read_schema(shards[0]).names)
    return ("messages" in names or "prompt" in names) and "question" not in names


def _readme_configs(root: Path) -> list[dict]:
    readme = root / "README.md"
    if not readme.is_file():
        return []
    text = readme.read_text(encoding="utf-8")
    if not text.startswith("---"):
        return []
    try:
        front = yaml.safe_load(text.split("---", 2)[1]) or {}
    except yaml.YAMLError:
        return []
    configs = front.get("configs") if isinstance(front, dict) else None
    return [c for c in configs or [] if isinstance(c, dict)]


def published_files(path: str | Path) -> dict[str, list[Path]]:
    """`{"config/split": [parquet files]}` as `datasets` resolves them: the README's
    `configs:` data_files, else `data/{split}-*.parquet` of the default config."""
    root = Path(path)
    out: dict[str, list[Path]] = {}
    for config in _readme_configs(root):
        name = config.get("config_name", "default")
        files = config.get("data_files") or []
        if isinstance(files, (str, dict)):
            files = [files]
        for item in files:
            split, pattern = ("train", item) if isinstance(item, str) else \
                (item.get("split", "train"), item.get("path"))
            for pat in pattern if isinstance(pattern, list) else [pattern]:
                matched = sorted(root.glob(str(pat)))
                out.setdefault(f"{name}/{split}", []).extend(
                    p for p in matched if p.suffix == ".parquet")
    if not out:
        for shard in sorted((root / "data").glob("*.parquet")):
            split = shard.name.split("-", 1)[0]
            out.setdefault(f"default/{split}", []).append(shard)
    return {k: v for k, v in out.items() if v}


def published_stats(path: str | Path) -> dict[str, Any]:
    """Counts, lengths, pass rates and (SFT) answer diversity of a published repository."""
    import polars as pl


    root = Path(path)
    parts = published_files(root)
    if not parts:
        raise ValueError(f"{root}: a published repository without data files "
                         "(README configs name none and data/ has no Parquet)")
    token = re.compile(TOKEN_PATTERN)
    sources: Counter = Counter()
    answer_types: Counter = Counter()
    images: Counter = Counter()
    forms: dict[str, str] = {}
    hist: dict[str, list] = {"question_tokens": [], "response_tokens": [], "pass_rate": [],
                             "images_per_row": []}
    tally = Tally()
    rows = with_response = 0
    for part, files in parts.items():
        for file in files:
            handle = pq.ParquetFile(file)
            names = handle.schema_arrow.names
            form = "sft" if "messages" in names else "rl" if "prompt" in names else None
            if form is None:
                raise ValueError(f"{file}: neither SFT (`messages`) nor RL (`prompt`) rows")
            forms[part] = form
            turns = "messages" if form == "sft" else "prompt"
            wanted = [c for c in ("id", "source", turns, "answer_type", "pass_rate")
                      if c in names]
            counts = pl.scan_parquet(str(file)).select(
                pl.col("images").list.len()).collect().to_series().to_list() \
                if "images" in names else []
            for n_images in counts:
                images[str(n_images)] += 1
                hist["images_per_row"].append(n_images)
            for batch in handle.iter_batches(columns=wanted, batch_size=2048):
                for row in batch.to_pylist():
                    rows += 1
                    sources[str(row.get("source"))] += 1
                    if row.get("answer_type") is not None:
                        answer_types[row["answer_type"]] += 1
                    if row.get("pass_rate") is not None:
                        hist["pass_rate"].append(row["pass_rate"])
                    by_role = _texts_by_role(row.get(turns) or [])
                    hist["question_tokens"].append(len(token.findall(by_role.get("user", ""))))
                    if "assistant" in by_role:
                        with_response += 1
                        hist["response_tokens"].append(
                            len(token.findall(by_role["assistant"])))
                        tally.add(str(row.get("id")), by_role["assistant"])
    stats: dict[str, Any] = {
        "path": str(root), "published": True, "configs": forms, "rows": rows, "rejected": 0,
        "rejects_by_reason": {}, "by_source": dict(sorted(sources.items())),
        "by_answer_type": dict(sorted(answer_types.items())),
        "images_per_row": dict(sorted(images.items())), "with_response": with_response,
        "question_tokens": _describe(pl.Series(hist["question_tokens"], dtype=pl.Int64)),
        "response_tokens": _describe(pl.Series(hist["response_tokens"], dtype=pl.Int64)),
        "pass_rate": _describe(pl.Series(hist["pass_rate"], dtype=pl.Float64)),
    }
    multi = {k: q for k, q in tally.questions.items() if q.traces > 1}
    if multi:
        sub = Tally()
        sub.questions = multi
        stats["diversity"] = sub.summary()
    stats["_hist"] = hist
    return stats


def _texts_by_role(turns: list) -> dict[str, str]:
    out: dict[str, str] = {}
    for turn in turns:
        content = turn.get("content")
        if isinstance(content, str):
            text = content
        else:
            text = "".join(c.get("text") or "" for c in content or []
                           if c.get("type") == "text")
        out[turn.get("role", "?")] = text
    return out


def _describe(series: pl.Series) -> dict[str, float] | None:
    if series.len() == 0:
        return None
    q = lambda p: float(series.quantile(p, interpolation="nearest"))  # noqa: E731
    return {"count": int(series.len()), "mean": round(float(series.mean()), 3),
            "min": float(series.min()), "p50": q(0.5), "p90": q(0.9), "max": float(series.max())}


def _reject_counts(dataset: DatasetDir) -> dict[str, int]:
    import polars as pl
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
    diversity = stats.get("diversity") or {}
    if diversity.get("distinct_near"):
        fig, ax = plt.subplots(figsize=(5, 3))
        width = 0.4
        for shift, key, label in ((-width / 2, "distinct_near", "distinct traces"),
                                  (width / 2, "distinct_answers", "distinct final answers")):
            dist = diversity.get(key) or {}
            ax.bar([int(d) + shift for d in dist], list(dist.values()), width=width,
                   label=label)
        ax.set_title("Answer diversity per question")
        ax.set_xlabel("distinct per question (near-identical traces count once)")
        ax.set_ylabel("questions")
        ax.legend()
        save(fig, "diversity.png")
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
    d = stats.get("diversity")
    if d:
        parts = ", ".join(f"{k}: {v}" for k, v in d["distinct_near"].items())
        lines.append(f"  answer diversity: {d['questions']} questions with several traces; "
                     f"distinct traces per question {parts}; identical samples for "
                     f"{d['identical_questions']} questions")
    return "\n".join(lines)
