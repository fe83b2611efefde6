"""The dataset card: README YAML (`configs:`, `dataset_info`) merged as push_to_hub merges it,
and a body rendered from `cards/dataset_card.md.j2` out of the provenance of every config.

Provenance (sources, lineage, models, plots, versions) is kept in `provenance.json` in the
repo, so publishing one config re-renders a card that still describes the others.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
import yaml
from huggingface_hub import DatasetCard, DatasetCardData

from omr_data.privacy import is_local_path, public_text, public_value
from omr_data.publish import forms
from omr_data.publish.common import PublishError, data_dir_for
from omr_data.store import is_own_manifest

CARDS_DIR = Path(__file__).resolve().parent / "cards"   # also reachable as ./cards in a checkout
TEMPLATE = "dataset_card.md.j2"
SEE_SOURCE = "see source"
#: Hub card metadata: `license: other` needs a name and a link; the link is the card's own
#: License section, which lists every source's license
MIXED_LICENSE_NAME = "mixed-source-licenses"
LICENSE_LINK = "README.md#license"
LANGUAGES = ["en"]
OMR_CITATION = """@misc{zhang2025openmmreasoner,
  title = {OpenMMReasoner: Pushing the Frontiers for Multimodal Reasoning with an Open and General Recipe},
  author = {Zhang, Kaichen and Wu, Keming and Yang, Zuhao and Li, Bo and Hu, Kairui and Wang, Bin and Liu, Ziwei and Li, Xingxuan and Bing, Lidong},
  year = {2025},
  eprint = {2511.16334},
  archivePrefix = {arXiv}
}"""

# ---------------------------------------------------------------------------------------
# Lineage


def lineage(path: Path) -> list[dict]:
    """Stages that made the dataset at `path`, ancestors first, from `manifest.json` → parents.

    A parent entry may be a path or a mapping with `path` (absolute or relative to the child),
    `fingerprint` and `stage`; parents that are no longer on disk are listed from the entry.
    """
    order: list[dict] = []
    seen: set[str] = set()

    def visit(directory: Path | None, entry: Mapping[str, Any] | None) -> None:
        manifest = _read_manifest(directory)
        key = str((manifest or {}).get("fingerprint") or (entry or {}).get("fingerprint")
                  or directory)
        if key in seen:
            return
        seen.add(key)
        parent_keys, external = [], []
        for parent in (manifest or {}).get("parents") or []:
            parent_entry = parent if isinstance(parent, Mapping) else {"path": str(parent)}
            parent_dir = _parent_dir(parent_entry, directory)
            visit(parent_dir, parent_entry)
            parent_manifest = _read_manifest(parent_dir)
            parent_keys.append(_short((parent_manifest or {}).get("fingerprint")
                                      or parent_entry.get("fingerprint") or parent_dir))
            if parent_manifest is None:
                external.append(_external_input(parent_entry, parent_dir))
        node = _node(directory, manifest, entry, parent_keys)
        if manifest is not None:
            node["external_inputs"] = external
        order.append(node)

    visit(path, None)
    return order


def _node(directory: Path | None, manifest: Mapping | None, entry: Mapping | None,
          parents: list[str]) -> dict:
    entry = entry or {}
    if manifest is None:
        return {
            "name": directory.name if directory else str(entry.get("path", "?")),
            "stage": entry.get("stage") or "external input",
            "fingerprint": _short(entry.get("fingerprint") or ""),
            "config": {}, "rows_in": None, "rows": entry.get("rows"), "rejected": None,
            "reject_reasons": {}, "parents": parents, "known": False,
        }
    return {
        "name": directory.name,
        "stage": manifest.get("stage") or "?",
        "fingerprint": _short(manifest.get("fingerprint") or ""),
        "config": redact(manifest.get("config") or {}),
        "rows_in": manifest.get("rows_in"),
        "rows": manifest.get("rows"),
        "rejected": manifest.get("rejected"),
        "reject_reasons": dict(manifest.get("reject_reasons") or {}),
        "parents": parents,
        "known": True,
        "stats": _compact_stats(manifest.get("stats") or {}),
    }


def _compact_stats(stats: Mapping[str, Any]) -> dict:
    """Scalar stats and small flat mappings (sampling settings): what a card shows; big
    nested reports (e.g. dedup's examples) stay in the stage's own output."""
    out = {}
    for key, value in stats.items():
        if isinstance(value, (str, int, float, bool)) or value is None:
            out[key] = value
        elif isinstance(value, Mapping) and len(value) <= 20 and all(
                isinstance(v, (str, int, float, bool)) or v is None for v in value.values()):
            out[key] = dict(value)
    return redact(out)


def _external_input(entry: Mapping[str, Any], directory: Path | None = None) -> dict:
    """A raw input of a stage (source files, a Hub dataset id): how a reader finds it again.

    Absolute local paths are cut to their last part (they name someone's machine); a
    relative path or a Hub id is shown as given."""
    raw = str(entry.get("path") or entry.get("dir") or "?")
    shown = Path(raw).name if is_local_path(raw) else public_text(raw)
    return {"path": shown, "fingerprint": str(entry.get("fingerprint") or "")}


def _read_manifest(directory: Path | None) -> dict | None:
    if directory is None:
        return None
    path = Path(directory) / "manifest.json"
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise PublishError(f"{path}: unreadable manifest ({err})") from None
    return manifest if is_own_manifest(manifest) else None  # another tool's says nothing


def _parent_dir(entry: Mapping[str, Any], child: Path | None) -> Path | None:
    raw = entry.get("path") or entry.get("dir")
    if not raw:
        return None
    path = Path(str(raw))
    if not path.is_absolute() and child is not None:
        for candidate in (child / path, child.parent / path, Path.cwd() / path):
            if candidate.is_dir():
                return candidate.resolve()
    return path if path.is_dir() else None


def _short(value: Any) -> str:
    return str(value or "")[:12]


def redact(value: Any) -> Any:
    """Config as shown on a public card: secrets masked, server URLs and absolute paths
    (this machine's) left out (see omr_data.privacy)."""
    return public_value(value)


def models(nodes: list[dict]) -> list[dict]:
    """Teacher / judge / other models named in the stages' configs."""
    found, seen = [], set()

    def walk(stage: str, config: Any, prefix: str = "") -> None:
        if not isinstance(config, Mapping):
            return
        for key, value in config.items():
            name = f"{prefix}{key}"
            if isinstance(value, Mapping):
                walk(stage, value, f"{name}.")
            elif isinstance(value, str) and value and _is_model_key(str(key)):
                item = (stage, name, value)
                if item not in seen:
                    seen.add(item)
                    found.append({"stage": stage, "role": name, "model": value})

    rollouts = _rollout_ancestors([n for n in nodes if n.get("known")])
    for node in nodes:
        walk(node["stage"], node["config"],
             "policy rollouts: " if node.get("fingerprint") in rollouts else "")
    return found


def _is_model_key(key: str) -> bool:
    key = key.lower()
    return key in ("teacher", "judge", "model") or key.endswith("_model")


# ---------------------------------------------------------------------------------------
# The recipe, from the lineage: models and prompt hashes, sources, dedup, pass rates


def recipe_facts(inputs: list[Mapping[str, Any]]) -> dict:
    """What a reader needs to redo one split, gathered from its inputs' lineage nodes."""
    nodes = _unique_nodes(inputs)
    rollout_steps = _rollout_ancestors(nodes)
    facts: dict[str, list] = {"models": [], "sources": [], "dedup": [], "pass_rates": []}
    for node in nodes:
        stage, stats, config = node["stage"], node.get("stats") or {}, node["config"]
        if stage == "distill":
            facts["models"].append(_teacher_fact(node, stats, config, rollout_steps))
        elif stage == "verify":
            facts["models"].append(_verifier_fact(node, stats, config, rollout_steps))
        elif stage == "normalize":
            facts["sources"] += _source_facts(node, config)
        elif stage == "dedup":
            facts["dedup"].append(_dedup_fact(node, stats, config))
        elif stage == "pass_rate":
            facts["pass_rates"].append(_pass_rate_fact(node, stats))
    return facts


def _unique_nodes(inputs: list[Mapping[str, Any]]) -> list[dict]:
    nodes, seen = [], set()
    for inp in inputs:
        for node in inp.get("lineage") or []:
            key = node.get("fingerprint") or node.get("name")
            if node.get("known") and key not in seen:
                seen.add(key)
                nodes.append(node)
    return nodes


def _rollout_ancestors(nodes: list[dict]) -> set[str]:
    """Fingerprints of the steps that made the rollouts a pass_rate step read (its 2nd input)
    and not its questions (1st input): their distill step samples a policy, not a teacher."""
    by_fp = {n["fingerprint"]: n for n in nodes}

    def ancestors(fp: str) -> set[str]:
        found, todo = set(), [fp]
        while todo:
            fp = todo.pop()
            if fp not in found and fp in by_fp:
                found.add(fp)
                todo.extend(by_fp[fp]["parents"])
        return found

    out: set[str] = set()
    for node in nodes:
        if node["stage"] == "pass_rate" and len(node["parents"]) > 1:
            out |= ancestors(node["parents"][1]) - ancestors(node["parents"][0])
    return out


def _teacher_fact(node: dict, stats: dict, config: dict, rollouts: set[str]) -> dict:
    sampling = stats.get("distill.sampling") or {}
    settings = {"n": stats.get("distill.n", config.get("n")), **sampling}
    if stats.get("distill.until_distinct") is not None:
        settings.update(until_distinct=stats["distill.until_distinct"],
                        max_n=stats.get("distill.max_n"))
    reported = reported_models(stats)
    preset = stats.get("distill.teacher") or config.get("teacher")
    return {"role": "policy (rollouts for pass rates)" if node["fingerprint"] in rollouts
            else "teacher",
            "step": node["name"], "stage": "distill",
            "model": stats.get("distill.model") or config.get("model") or config.get("teacher"),
            "preset": preset,
            "reported": reported,
            "simulated": preset == "simulated" or any(is_simulated(m) for m in reported),
            "prompt": "system prompt",
            "prompt_sha256": stats.get("distill.system_prompt_sha256"),
            "questions": stats.get("distill.questions"),
            "k": stats.get("distill.until_distinct") or stats.get("distill.n", config.get("n")),
            "identical_questions": stats.get("distill.identical_questions"),
            "warning": _identical_warning(stats),
            "settings": ", ".join(f"{k}={v}" for k, v in settings.items() if v is not None)}


def _identical_warning(stats: Mapping[str, Any]) -> str | None:
    identical = int(stats.get("distill.identical_questions") or 0)
    if not identical:
        return None
    return (f"the teacher returned identical samples for {identical} of "
            f"{stats.get('distill.questions', '?')} questions: it ignores temperature (greedy "
            "decoding?), so those questions have one trace n times, not n traces")


def reported_models(stats: Mapping[str, Any]) -> dict[str, int]:
    """Model names the teacher's server put in its responses, with trace counts."""
    prefix = "distill.reported_model."
    return {k[len(prefix):]: v for k, v in sorted(stats.items()) if k.startswith(prefix)}


def is_simulated(model_name: str) -> bool:
    """omr-data's simulated teacher names itself `…:simulated` (and `omr-data/simulated-…`)."""
    return "simulated" in str(model_name).lower()


def _verifier_fact(node: dict, stats: dict, config: dict, rollouts: set[str]) -> dict:
    judged = bool(config.get("judge"))
    role = "verifier + judge" if judged else "verifier"
    if node["fingerprint"] in rollouts:
        role += " (rollouts for pass rates)"
    return {"role": role, "step": node["name"], "stage": "verify",
            "model": (stats.get("verify.judge_model") or config.get("judge_model")
                      or config.get("judge")) if judged else "rules + math-verify",
            "preset": config.get("judge") or "",
            "prompt": "judge prompt" if judged else "",
            "prompt_sha256": stats.get("verify.judge_prompt_sha256") if judged else None,
            "settings": "; ".join(x for x in (
                f"keep={config.get('keep')}" if config.get("keep") else "",
                f"format_weight={config.get('format_weight')}"
                if config.get("format_weight") is not None else "",
                stats.get("verify.version") or "") if x)}


def _source_facts(node: dict, config: dict) -> list[dict]:
    source, split = config.get("source") or "?", config.get("split")
    out = []
    for inp in node.get("external_inputs") or []:
        hub_key = f"hub-dataset:{inp['path']}:{split or ''}"
        on_hub = hashlib.sha256(hub_key.encode()).hexdigest() == inp["fingerprint"]
        out.append({"source": source, "step": node["name"], "input": inp["path"],
                    "kind": "Hub dataset (default revision)" if on_hub else "files",
                    "split": split or "training (default)",
                    "fingerprint": inp["fingerprint"][:16],
                    "rows": node.get("rows"), "rejected": node.get("rejected")})
    return out


def _dedup_fact(node: dict, stats: dict, config: dict) -> dict:
    rows_in = node.get("rows_in") or 0
    removed = {"duplicates": stats.get("dedup_removed_duplicates"),
               "contaminated": stats.get("dedup_removed_contaminated")}
    return {"step": node["name"],
            "thresholds": {k: config.get(k) for k in (
                "image_threshold", "fine_threshold", "text_threshold", "text_only_threshold")},
            "keep": config.get("keep"), "embedding_model": config.get("embedding_model"),
            "against": [Path(str(p)).name for p in config.get("against") or []],
            "rows_in": node.get("rows_in"), "clusters": stats.get("dedup_clusters"),
            "removed": removed,
            "rates": {k: (v / rows_in if rows_in and v is not None else None)
                      for k, v in removed.items()}}


def _pass_rate_fact(node: dict, stats: dict) -> dict:
    return {"step": node["name"], "rows": node.get("rows"),
            "annotated": stats.get("annotated", 0), "no_rollouts": stats.get("no_rollouts", 0),
            "rollouts": stats.get("rollouts"), "mean": stats.get("pass_rate.mean_pass_rate"),
            "all_solved": stats.get("pass_rate.all_solved"),
            "none_solved": stats.get("pass_rate.none_solved")}


def derived_columns(provenance: Mapping[str, Any], cards_dir: Path = CARDS_DIR) -> list[dict]:
    """Entries of `derived_columns.yaml` that this release's lineage makes: a stage that ran,
    and, where the entry names config keys (`when`), a step of it that set one."""

    path = cards_dir / "derived_columns.yaml"
    if not path.is_file():
        return []
    forms_present, steps = set(), []
    for cfg in provenance.get("configs", {}).values():
        forms_present.add(cfg.get("form"))
        for split in cfg.get("splits", {}).values():
            steps += _unique_nodes(split.get("inputs") or [])
    out = []
    for entry in yaml.safe_load(path.read_text()) or []:
        when = entry.get("when")
        when = [when] if isinstance(when, str) else list(when or [])
        stage = entry.get("stage", "*")
        if entry.get("form") and entry["form"] not in forms_present:
            continue
        if stage != "*" and not any(n["stage"] == stage and (
                not when or any(n["config"].get(k) not in (None, "", []) for k in when))
                for n in steps):
            continue
        made_by = [n["name"] for n in steps if n["stage"] == stage]
        out.append({"key": entry["key"], "where": entry.get("where", "meta"),
                    "stage": stage if stage != "*" else "publish",
                    "steps": sorted(set(made_by)),
                    "description": " ".join(str(entry.get("description", "")).split())
                    .replace("{pass_rate_keys}", ", ".join(f"`{k}`" for k in
                                                           forms.PASS_RATE_KEYS))})
    return out


# ---------------------------------------------------------------------------------------
# Licenses


def known_sources(cards_dir: Path = CARDS_DIR) -> dict[str, dict]:

    path = cards_dir / "sources.yaml"
    if not path.is_file():
        return {}
    table = {}
    for entry in yaml.safe_load(path.read_text()) or []:
        for name in entry.get("names") or []:
            table[name] = entry
    return table


def source_rows(sources: Mapping[str, int], cards_dir: Path = CARDS_DIR) -> list[dict]:
    table = known_sources(cards_dir)
    rows = []
    for name, count in sorted(sources.items(), key=lambda kv: (-kv[1], kv[0])):
        entry = table.get(name, {})
        rows.append({"name": name, "rows": count, "title": entry.get("title"),
                     "url": entry.get("url"), "license": entry.get("license") or SEE_SOURCE})
    return rows


def card_license(provenance: Mapping[str, Any], cards_dir: Path = CARDS_DIR) -> str:
    """One license only when every source has the same known one; otherwise `other`."""
    licenses = set()
    for config in provenance.get("configs", {}).values():
        for split in config.get("splits", {}).values():
            for row in source_rows(split.get("sources", {}), cards_dir):
                licenses.add(row["license"])
    return licenses.pop() if len(licenses) == 1 and SEE_SOURCE not in licenses else "other"


def citations(provenance: Mapping[str, Any], cards_dir: Path = CARDS_DIR) -> list[str]:
    """BibTeX: OpenMMReasoner (the recipe), then each source present that has one."""
    table = known_sources(cards_dir)
    out, seen = [OMR_CITATION], set()
    for config in provenance.get("configs", {}).values():
        for split in config.get("splits", {}).values():
            for name in sorted(split.get("sources", {})):
                cite = (table.get(name) or {}).get("citation")
                if cite and cite.strip() not in seen:
                    seen.add(cite.strip())
                    out.append(cite.strip())
    return out


# ---------------------------------------------------------------------------------------
# YAML front matter, merged as `datasets.push_to_hub` merges it


def merged_card_data(existing_readme: Any, *, config: str, split: str, features,
                     num_examples: int, num_bytes: int, download_size: int,
                     replaced_download_size: int = 0):
    """Card data with this config's split replaced and every other config/split kept.

    `existing_readme` is the README text, None for a new repository, or card data returned
    by an earlier call (updated in place), so that one release merges several config/splits.
    `replaced_download_size` is the Parquet size of the shards this split had before (they
    are deleted), so `download_size` stays the config's total, as push_to_hub keeps it.
    """
    from datasets.info import DatasetInfo, DatasetInfosDict
    from datasets.splits import SplitDict, SplitInfo
    from datasets.utils.metadata import MetadataConfigs

    if isinstance(existing_readme, DatasetCardData):
        card_data = existing_readme
    elif existing_readme:
        card_data = DatasetCard(existing_readme).data
    else:
        card_data = DatasetCardData()
    configs = MetadataConfigs.from_dataset_card_data(card_data)
    infos = DatasetInfosDict.from_dataset_card_data(card_data)

    data_dir = data_dir_for(config)
    old = infos.get(config)
    splits = SplitDict()
    info = DatasetInfo(config_name=config, features=features, splits=splits,
                       download_size=0, dataset_size=0)
    kept_files = {}
    if old is not None and old.splits:
        others = [s for s in old.splits.values() if s.name != split]
        if others and old.features != features:
            raise PublishError(
                f"config {config!r} already holds split(s) {', '.join(s.name for s in others)} "
                "with other columns; publish to another --config (or the same split)")
        old_files = {item["split"]: item["path"]
                     for item in (configs.get(config, {}).get("data_files") or [])}
        for other in others:
            splits.add(other)
            info.dataset_size += other.num_bytes or 0
            if other.name in old_files:
                kept_files[other.name] = old_files[other.name]
        if others:
            replaced = replaced_download_size if split in old.splits else 0
            info.download_size = max(0, (old.download_size or 0) - replaced)
    splits.add(SplitInfo(name=split, num_bytes=num_bytes, num_examples=num_examples))
    info.dataset_size += num_bytes
    info.download_size += download_size
    info.size_in_bytes = info.download_size + info.dataset_size

    data_files = [{"split": name, "path": path} for name, path in kept_files.items()]
    data_files.append({"split": split, "path": f"{data_dir}/{split}-*"})
    entry: dict[str, Any] = {"data_files": data_files}
    to_dump = {config: entry}
    current_default = _default_config(configs)
    if config == "default":
        if current_default not in (None, "default"):
            configs[current_default].pop("default", None)
            to_dump[current_default] = configs[current_default]
    elif current_default is None or current_default == config:
        if "default" not in configs:
            entry["default"] = True  # so load_dataset(repo) without a config name works
    DatasetInfosDict({config: info}).to_dataset_card_data(card_data)
    configs_dump = MetadataConfigs(to_dump)
    configs_dump.to_dataset_card_data(card_data)
    return card_data


def _default_config(configs) -> str | None:
    flagged = [name for name, cfg in configs.items() if cfg.get("default")]
    if flagged:
        return flagged[0]
    if "default" in configs:
        return "default"
    return next(iter(configs)) if len(configs) == 1 else None


def size_category(rows: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                         (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")):
        if rows < limit:
            return label
    return "10M<n<100M"


# ---------------------------------------------------------------------------------------
# Rendering


def render_readme(card_data, provenance: Mapping[str, Any], *, repo: str,
                  cards_dir: Path = CARDS_DIR) -> str:
    """README.md: YAML front matter, then the body rendered from the Jinja template."""

    total = sum(split.get("rows", 0) for cfg in provenance.get("configs", {}).values()
                for split in cfg.get("splits", {}).values())
    card_data["pretty_name"] = provenance.get("title") or repo.split("/", 1)[1]
    card_data["license"] = card_license(provenance, cards_dir)
    if card_data["license"] == "other":
        card_data["license_name"] = MIXED_LICENSE_NAME
        card_data["license_link"] = LICENSE_LINK
    else:
        for key in ("license_name", "license_link"):
            card_data.pop(key, None)  # a release whose sources now share one license
    card_data["language"] = list(LANGUAGES)
    card_data["size_categories"] = [size_category(total)]
    card_data["task_categories"] = ["image-text-to-text", "visual-question-answering"]
    tags = list(card_data.get("tags") or [])
    for tag in ("omr-data", "multimodal-reasoning"):
        if tag not in tags:
            tags.append(tag)
    card_data["tags"] = tags

    template_path = cards_dir / TEMPLATE
    if not template_path.is_file():
        raise PublishError(f"{template_path}: dataset card template not found")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(cards_dir)),
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined, autoescape=False)
    env.filters["num"] = lambda n: "?" if n is None else f"{n:,}"
    env.filters["compact"] = lambda obj: json.dumps(obj, sort_keys=True, ensure_ascii=False)
    env.filters["cell"] = lambda text: str(text).replace("|", "\\|").replace("\n", " ")
    env.filters["pct"] = lambda x: "?" if x is None else f"{100 * x:.1f}%"
    env.filters["fixed3"] = lambda x: "?" if x is None else f"{x:.3f}"
    body = env.get_template(TEMPLATE).render(**card_context(provenance, repo=repo,
                                                            total=total, cards_dir=cards_dir))
    return f"---\n{card_data.to_yaml()}\n---\n\n{body}"


def card_context(provenance: Mapping[str, Any], *, repo: str, total: int,
                 cards_dir: Path) -> dict:
    configs = []
    names = sorted(provenance.get("configs", {}), key=lambda n: (n != "default", n))
    for name in names:
        cfg = provenance["configs"][name]
        splits = []
        sources: Counter[str] = Counter()
        decided: Counter[str] = Counter()
        for split_name, split in sorted(cfg.get("splits", {}).items()):
            sources.update(split.get("sources", {}))
            decided.update(split.get("decided_by", {}))
            recipe = recipe_facts(split.get("inputs") or [])
            splits.append({"name": split_name, **split, "recipe": recipe,
                           "diversity": diversity_view(split.get("diversity"), recipe)})
        configs.append({
            "name": name,
            "form": cfg["form"],
            "data_dir": data_dir_for(name),
            "splits": splits,
            "rows": sum(s.get("rows", 0) for s in splits),
            "sources": source_rows(sources, cards_dir),
            "decided_by": dict(sorted(decided.items())),
            "load_args": json.dumps(repo) if name == "default"
            else f"{json.dumps(repo)}, {json.dumps(name)}",
            "instruction": cfg.get("instruction"),
        })
    teachers = [m for c in configs for s in c["splits"] for m in s["recipe"]["models"]
                if m["stage"] == "distill"]
    return {
        "repo": repo,
        "title": provenance.get("title") or repo.split("/", 1)[1],
        "summary": provenance.get("summary") or default_summary(configs, total),
        "total": total,
        "configs": configs,
        "versions": [_version_entry(v) for v in reversed(provenance.get("versions", []))],
        "pass_rate_keys": forms.PASS_RATE_KEYS,
        "derived": derived_columns(provenance, cards_dir),
        "see_source": SEE_SOURCE,
        "simulated": any(t.get("simulated") for t in teachers),
        "teacher_warnings": sorted({t["warning"] for t in teachers if t.get("warning")}),
        "citations": citations(provenance, cards_dir),
    }


def diversity_view(diversity: Mapping[str, Any] | None, recipe: Mapping[str, Any]
                   ) -> dict | None:
    """The card's answer-diversity numbers for one SFT split: questions by their count of
    distinct verified traces (0 for questions the teacher saw whose traces all failed), and
    the share below k (the distill step's n, or its until_distinct)."""
    if not diversity or not diversity.get("questions"):
        return None
    teachers = [m for m in recipe.get("models", []) if m["stage"] == "distill"
                and m["role"] == "teacher"]
    dist = {int(d): n for d, n in (diversity.get("distinct_verified") or {}).items()}
    asked = sum(t.get("questions") or 0 for t in teachers)
    if asked > diversity["questions"]:
        dist[0] = dist.get(0, 0) + asked - diversity["questions"]
    total = sum(dist.values())
    k = next((t["k"] for t in teachers if t.get("k")), None) or 8
    below = sum(n for d, n in dist.items() if d < k)
    return {"k": k, "questions": total, "traces": diversity.get("traces"),
            "rows": [{"distinct": d, "questions": n, "share": n / total}
                     for d, n in sorted(dist.items())],
            "share_below_k": below / total if total else None,
            "single": sum(n for d, n in dist.items() if d <= 1) / total if total else None,
            "identical_questions": sum(t.get("identical_questions") or 0 for t in teachers),
            "mean_distinct": diversity.get("mean_distinct_near")}


def _version_entry(entry: Mapping[str, Any]) -> dict:
    """A version with the list of config/splits it wrote (older entries name just one)."""
    parts = entry.get("parts")
    if parts is None:
        parts = [{"config": entry.get("config", "default"), "split": entry.get("split", "?"),
                  "rows": entry.get("rows")}]
    rows = entry.get("rows")
    if rows is None:
        rows = sum(p.get("rows") or 0 for p in parts)
    return {"version": entry.get("version", "?"), "date": entry.get("date", ""),
            "message": entry.get("message", ""), "rows": rows, "parts": parts}


def default_summary(configs: list[dict], total: int) -> str:
    kinds = sorted({"SFT (conversations with verified reasoning traces)" if c["form"] == forms.SFT
                    else "RL (prompts with verifiable answers)" for c in configs})
    return (f"{total:,} multimodal reasoning samples in {len(configs)} config(s): "
            f"{'; '.join(kinds)}. Built with omr-data, which reproduces the OpenMMReasoner "
            "data recipe.")
