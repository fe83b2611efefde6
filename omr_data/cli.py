"""`omr-data …`: a thin command line over the library.

Heavy imports happen inside the commands so `omr-data --help` is instant. Every command
ends with a one-line summary; a failure is one readable line and a non-zero exit
(`--debug` shows the traceback).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, Callable

EXAMPLES = {
    "run": """examples:
  omr-data run pipelines/demo.yaml
  omr-data run pipelines/rl_74k.yaml --workdir /data/runs/rl --workers 16
  omr-data run pipelines/sft_874k.yaml --set llava_cot=/data/LLaVA-CoT-100k --dry-run
  omr-data run pipelines/sft_874k.yaml --only llava_cot,traces""",
    "publish": """examples:
  omr-data publish runs/demo/sft --repo omr/sft-874k --hub-dir hub --version v0.1
  omr-data publish runs/rl/dedup --repo omr/rl-74k --config virl39k --to-hub --version v1.0
  omr-data publish --repo omr/rl-74k --hub-dir hub --version v1.0 \
      --part virl39k=runs/rl/virl --part mmk12=runs/rl/mmk12 --part validation:val=runs/rl/val""",
    "stats": """examples:
  omr-data stats runs/demo/sft
  omr-data stats runs/demo/sft --plots runs/demo/sft/stats --json""",
    "normalize": """examples:
  omr-data normalize --source llava_cot samples/llava_cot runs/llava
  omr-data normalize --source virl39k /data/ViRL39K/39Krelease.parquet runs/virl --image-root /data/ViRL39K
  omr-data normalize --source mmk12 /data/MMK12 runs/mmk12_test --split test""",
    "distill": """examples:
  omr-data serve-teacher --simulated --port 8000 &   # offline, simulated teacher
  omr-data distill runs/llava runs/traces --teacher qwen3-vl-235b --n 8 --base-url http://127.0.0.1:8000/v1
  omr-data distill runs/llava runs/traces --teacher qwen3-vl-235b --n 8 \\
      --base-url http://gpu1:8000/v1 --base-url http://gpu2:8000/v1 --concurrency 256
  omr-data distill runs/llava runs/traces --teacher qwen3-vl-235b --n 8 --backend vllm --tensor-parallel-size 8
  omr-data distill runs/llava runs/traces --teacher qwen3-vl-235b --until-distinct 4 --max-n 8   # adaptive n""",
    "verify": """examples:
  omr-data verify runs/traces runs/verified
  omr-data verify runs/traces runs/verified --judge qwen3-235b-judge --judge-base-url http://gpu3:8000/v1""",
    "dedup": """examples:
  omr-data dedup runs/rl/gold runs/rl/dedup --against runs/bench/mathvista --against runs/bench/mmk12_test
  omr-data dedup runs/virl runs/mmk12 runs/tqa runs/rl/dedup --text-threshold 0.92 --keep most_images""",
    "mix": """examples:
  omr-data mix runs/sft runs/verified runs/mmr1:0.5 runs/m1:20000
  omr-data mix runs/rl runs/virl:0.25 runs/mmk12 --total 50000 --seed 1""",
    "filter": """examples:
  omr-data filter runs/verified runs/x2 --max-samples 2        # ×2 subset of a ×8 run
  omr-data filter runs/verified runs/mid --difficulty 0.1:0.9
  omr-data filter runs/verified runs/long --min-tokens 200 --tokenizer Qwen/Qwen2.5-VL-7B-Instruct""",
    "pass-rate": """examples:
  omr-data distill runs/rl runs/rollouts --teacher qwen3-vl-235b --model runs/sft --n 8 --base-url http://gpu1:8000/v1
  omr-data verify runs/rollouts runs/scored --keep all
  omr-data pass-rate runs/rl runs/scored runs/rl_with_pass_rate""",
    "serve-teacher": """examples:
  omr-data serve-teacher --simulated --port 8000
  omr-data serve-teacher --simulated --accuracy 0.6 --oracle runs/llava""",
}


class CliError(Exception):
    """A failure to report as one line."""


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and getattr(args, "command", None) != "serve-teacher":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.passthrough = extra  # serve-teacher hands its other options to the server
    from omr_data.privacy import mask_logs

    mask_logs()  # URL credentials never reach the terminal or a log file
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return args.handler(args) or 0
    except KeyboardInterrupt:
        print("interrupted: finished work is kept; rerun the same command to resume",
              file=sys.stderr)
        return 130
    except Exception as err:  # one readable line unless --debug
        if args.debug:
            raise
        from omr_data.privacy import mask_url

        print(f"omr-data {args.command}: error: {mask_url(_one_line(err))}", file=sys.stderr)
        return 1


def build_parser() -> argparse.ArgumentParser:
    from omr_data import __version__

    parser = argparse.ArgumentParser(
        prog="omr-data",
        description="Build, verify and publish multimodal reasoning data (OpenMMReasoner recipe).",
        epilog="Run 'omr-data COMMAND --help' for a command's options and examples.")
    parser.add_argument("--version", action="version", version=f"omr-data {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, help_text: str, handler: Callable) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text,
                           epilog=EXAMPLES.get(name),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show tracebacks on errors")
        p.set_defaults(handler=handler)
        return p

    p = command("run", "Run a YAML recipe (cached, resumable).", cmd_run)
    p.add_argument("recipe", help="recipe file, e.g. pipelines/demo.yaml")
    p.add_argument("--executor", choices=["local", "ray"], default="local")
    p.add_argument("--address", help="Ray cluster address (with --executor ray)")
    p.add_argument("--workers", type=int, help="worker processes (local executor)")
    p.add_argument("--workdir", help="override the recipe's workdir")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="override one of the recipe's vars (repeatable)")
    p.add_argument("--only", help="comma-separated step ids to run (others must be done)")
    p.add_argument("--check", "--dry-run", dest="check", action="store_true",
                   help="validate the whole recipe (stages, keys, types, inputs) and exit")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")

    p = command("publish", "Publish dataset directories as a versioned Hub dataset.", cmd_publish)
    p.add_argument("inputs", nargs="*", metavar="DIR")
    p.add_argument("--part", action="append", default=[], metavar="CONFIG[:SPLIT]=DIR[,DIR]",
                   help="one config of a multi-config release (repeatable; one commit, one tag)")
    p.add_argument("--repo", required=True, help="e.g. omr/sft-874k")
    p.add_argument("--version", required=True, help="version tag, e.g. v1.0")
    p.add_argument("--config", help="config name (default: the default config)")
    p.add_argument("--split", default="train")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--hub-dir", help="write PATH/<repo> as a local git repo (offline)")
    target.add_argument("--to-hub", action="store_true", help="push to the Hugging Face Hub")
    p.add_argument("--private", action="store_true", help="create the Hub repo as private")
    p.add_argument("--message", help="commit message (default names the version)")
    p.add_argument("--title", help="card title")
    p.add_argument("--summary", help="card summary paragraph")
    p.add_argument("--instruction", default=None,
                   help="system turn of every published prompt (default: the instruction "
                        "distill sends; '' for none); distilled rows must match it")
    p.add_argument("--max-shard-size", default="500MB", help="largest Parquet shard, e.g. 500MB")

    p = command("stats", "Counts, lengths, pass rates and rejects of a dataset; PNG plots.",
                cmd_stats)
    p.add_argument("dataset", metavar="DIR")
    p.add_argument("--plots", metavar="OUT", help="where to write PNG plots (default DIR/stats)")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--json", action="store_true", help="print the statistics as JSON")

    p = command("normalize", "Read a public source in its own format into records.",
                cmd_normalize)
    p.add_argument("--source", required=True, help="adapter name, e.g. llava_cot, virl39k")
    p.add_argument("input", metavar="INPUT", help="file or folder in the source's format")
    p.add_argument("output", metavar="OUT")
    p.add_argument("--image-root", help="where relative image paths resolve")
    p.add_argument("--split", help="split to read (default: the training split)")
    p.add_argument("--max-image-pixels", type=int,
                   help="downscale larger images to this many pixels (default 4096*4096)")
    _common_stage_flags(p)

    p = command("distill", "Sample n reasoning traces per question from a teacher.", cmd_distill)
    p.add_argument("input", metavar="IN")
    p.add_argument("output", metavar="OUT")
    p.add_argument("--teacher", help="preset: qwen3-vl-235b (default), qwen2.5-vl-72b, simulated")
    p.add_argument("--model", help="override the preset's model name")
    p.add_argument("--n", type=int, help="traces per question (default 8)")
    p.add_argument("--until-distinct", type=int, metavar="K",
                   help="adaptive n: sample a question until K distinct verified traces")
    p.add_argument("--max-n", type=int, metavar="M",
                   help="adaptive n: at most M samples per question (default: --n)")
    p.add_argument("--base-url", action="append", dest="base_urls", metavar="URL",
                   help="OpenAI-compatible endpoint (repeat for several servers)")
    p.add_argument("--api-key-env", help="environment variable holding the API key")
    p.add_argument("--concurrency", type=int)
    p.add_argument("--temperature", type=float)
    p.add_argument("--top-p", type=float)
    p.add_argument("--max-tokens", type=int)
    p.add_argument("--max-requests-per-minute", type=int)
    p.add_argument("--max-tokens-per-minute", type=int)
    p.add_argument("--request-deadline-s", type=float)
    p.add_argument("--unreachable-after-s", type=float,
                   help="stop when no endpoint accepts a connection for this long (default 30)")
    p.add_argument("--max-image-pixels", type=int)
    p.add_argument("--journal", help="request journal path (default OUT/journal.sqlite)")
    p.add_argument("--system-prompt", help="override the preset's system prompt")
    p.add_argument("--use-n-param", choices=["auto", "yes", "no"],
                   help="one request with n choices, or n requests (auto: per endpoint)")
    p.add_argument("--request-timeout-s", type=float, help="timeout of one attempt")
    p.add_argument("--price-input-per-m", type=float, help="USD per million prompt tokens")
    p.add_argument("--price-output-per-m", type=float, help="USD per million output tokens")
    p.add_argument("--gpu-hour-price", type=float, help="USD per GPU hour, for the cost line")
    p.add_argument("--api-key", help="API key (put in the environment variable named by "
                   "--api-key-env, default OPENAI_API_KEY; never stored in the manifest)")
    p.add_argument("--dry-run", action="store_true",
                   help="print how many requests would be sent, and a token/cost estimate")
    p.add_argument("--backend", choices=["http", "vllm"],
                   help="http (any OpenAI-compatible endpoint, default) or an offline vLLM "
                        "engine on this GPU machine")
    p.add_argument("--tensor-parallel-size", type=int, help="vLLM: GPUs per engine")
    p.add_argument("--gpu-memory-utilization", type=float, help="vLLM: share of GPU memory")
    p.add_argument("--max-model-len", type=int, help="vLLM: context length")
    p.add_argument("--engine-kwargs", metavar="JSON", help="vLLM: other LLM(...) arguments")
    p.add_argument("--vllm-batch-size", type=int, help="vLLM: requests per LLM.chat call")
    _common_stage_flags(p)

    p = command("verify", "Score traces (rules, math-verify, optional LLM judge); keep correct.",
                cmd_verify)
    p.add_argument("input", metavar="IN")
    p.add_argument("output", metavar="OUT")
    p.add_argument("--judge", help="judge preset, e.g. qwen3-235b-judge")
    p.add_argument("--judge-base-url")
    p.add_argument("--judge-api-key-env")
    p.add_argument("--judge-concurrency", type=int)
    p.add_argument("--format-weight", type=float)
    p.add_argument("--keep", choices=["correct", "all"])
    p.add_argument("--judge-model", help="override the judge preset's model name")
    p.add_argument("--judge-cache", help="judge response cache (SQLite) path")
    p.add_argument("--timeout-s", type=float, help="math-verify time limit per item")
    p.add_argument("--math-workers", type=int, dest="math_workers",
                   help="math-verify worker processes (default 2)")
    p.add_argument("--no-require-format", action="store_true",
                   help="keep correct traces even when their <think>/<answer> is incomplete")
    p.add_argument("--relaxed", action="store_true",
                   help="also read untagged traces' \"final answer is …\", last line or last "
                        "number (default: only an <answer> tag or \\boxed{} outside <think>)")
    _common_stage_flags(p)

    p = command("dedup", "Remove near-duplicates (image AND text) across inputs, and rows "
                "matching evaluation benchmarks.", cmd_dedup)
    p.add_argument("paths", nargs="+", metavar="IN [IN ...] OUT",
                   help="input dataset dirs, then the output dir")
    p.add_argument("--against", action="append", metavar="BENCH_DIR",
                   help="benchmark dataset to decontaminate against (repeatable)")
    p.add_argument("--image-threshold", type=int, help="pHash Hamming radius for candidates")
    p.add_argument("--fine-threshold", type=float, help="fine image similarity to match")
    p.add_argument("--text-threshold", type=float, help="text cosine for rows with images")
    p.add_argument("--text-only-threshold", type=float, help="text cosine for text-only rows")
    p.add_argument("--keep", choices=["first", "most_images", "longest"],
                   help="which row of a cluster survives (default: first input wins)")
    p.add_argument("--embedding-model", help="sentence-transformers model (default: MiniLM)")
    p.add_argument("--embed-batch-size", type=int)
    p.add_argument("--cache-dir", help="embedding cache ('none' to disable)")
    _common_stage_flags(p)

    p = command("mix", "Concatenate datasets with per-input fractions or caps (seeded, "
                "stratified by source, never oversampled).", cmd_mix)
    p.add_argument("output", metavar="OUT")
    p.add_argument("inputs", nargs="+", metavar="IN[:SPEC]",
                   help="dataset dir, optionally ':0.5' (fraction) or ':5000' (row cap)")
    p.add_argument("--total", type=int, help="target size; specs become relative weights")
    p.add_argument("--no-stratify", action="store_true", help="sample ignoring sources")
    _common_stage_flags(p)

    p = command("filter", "Difficulty, length and samples-per-question filters.", cmd_filter)
    p.add_argument("input", metavar="IN")
    p.add_argument("output", metavar="OUT")
    p.add_argument("--difficulty", metavar="LO:HI", help="keep pass rates in [LO, HI]")
    p.add_argument("--min-tokens", type=int)
    p.add_argument("--max-tokens", type=int)
    p.add_argument("--tokenizer", help="tokenizer for lengths (default: regex count)")
    p.add_argument("--max-samples", type=int, help="keep traces #k with k < N")
    p.add_argument("--pass-rate-key", help="meta key holding the pass rate")
    p.add_argument("--perplexity-model", help="causal LM (name or path) scoring the traces")
    p.add_argument("--max-perplexity", type=float, help="drop traces above this perplexity")
    p.add_argument("--perplexity-max-tokens", type=int)
    p.add_argument("--perplexity-batch-size", type=int)
    p.add_argument("--perplexity-device", help="cpu, cuda, … (default: auto)")
    p.add_argument("--scorer", metavar="MODULE:FUNCTION",
                   help="your own scorer: f(rows) -> list[float | None], kept in filter.score")
    p.add_argument("--min-score", type=float)
    p.add_argument("--max-score", type=float)
    p.add_argument("--model-workers", type=int, help="worker processes for model scorers")
    _common_stage_flags(p)

    p = command("pass-rate", "Annotate questions with their pass rate from scored policy "
                "rollouts (distill with the policy, then verify --keep all).", cmd_pass_rate)
    p.add_argument("questions", metavar="QUESTIONS")
    p.add_argument("scored", metavar="SCORED")
    p.add_argument("output", metavar="OUT")
    p.add_argument("--acc-key", help="meta key of a rollout's accuracy (default verify.acc)")
    _common_stage_flags(p)

    p = command("serve-teacher", "Serve an OpenAI-compatible teacher (simulated, offline). "
                "Options are the simulated server's: see 'omr-data serve-teacher --simulated "
                "--help'.", cmd_serve_teacher)
    p.add_argument("--simulated", action="store_true", required=True,
                   help="the simulated teacher (the only built-in server)")
    p.add_argument("--port", type=int, default=8000)
    return parser


def _common_stage_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", type=int, help="worker processes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an OUT that another omr-data stage wrote (only the files it "
                        "wrote; a folder holding other files is still refused)")


# ---------------------------------------------------------------------------------------
# Commands


def cmd_run(args) -> int:
    from omr_data.executors import make_executor
    from omr_data.recipe import load_recipe, run_recipe

    start = time.perf_counter()
    overrides = {}
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise CliError(f"--set {item!r}: use NAME=VALUE")
        overrides[name] = value
    recipe = load_recipe(args.recipe, workdir=args.workdir, overrides=overrides)
    if args.check:
        print(f"{args.recipe}: ok, {len(recipe.steps)} steps")
        return 0
    options: dict[str, Any] = {"workers": args.workers}
    if args.executor == "ray":
        options["address"] = args.address
    executor = make_executor(args.executor, **options) if (
        args.workers or args.executor != "local") else None
    only = args.only.split(",") if args.only else None
    reports = run_recipe(recipe, executor=executor, progress=not args.no_progress, only=only)
    ran = [r for r in reports if r.result is not None]
    cached = sum(1 for r in ran if r.result.cached)
    rejected = sum(r.result.manifest["rejected"] for r in ran)
    print(f"recipe {recipe.name}: {len(reports)} steps ({cached} cached), "
          f"{rejected} rows rejected in all, {time.perf_counter() - start:.1f}s")
    empty = [r.step.id for r in ran if r.result.all_rejected]
    if empty:   # a recipe may filter a step to nothing on purpose: say so, don't fail
        print(f"omr-data run: warning: every input row was rejected in step(s) "
              f"{', '.join(empty)}", file=sys.stderr)
    return 0


def cmd_publish(args) -> int:
    from omr_data.hub import publish

    from datasets.utils.py_utils import convert_file_size_to_int

    # the token comes from HF_TOKEN or the saved login, never from a flag (shell history)
    from pathlib import Path

    from omr_data.hub import parse_part, publish_release

    hub_dir = str(Path(args.hub_dir).resolve()) if args.hub_dir else None
    options = dict(version=args.version, hub_dir=hub_dir, to_hub=args.to_hub,
                   private=args.private, message=args.message, title=args.title,
                   summary=args.summary, instruction=args.instruction,
                   max_shard_bytes=convert_file_size_to_int(args.max_shard_size))
    if args.part:
        if args.inputs or args.config:
            raise CliError("give either DIR … [--config NAME] or --part CONFIG=DIR …, not both")
        result = publish_release([parse_part(p) for p in args.part], args.repo, **options)
    elif args.inputs:
        result = publish(args.inputs, args.repo, config=args.config, split=args.split,
                         **options)
    else:
        raise CliError("nothing to publish: give dataset directories or --part")
    print(f"publish: {result.summary()}")
    return 0


def cmd_stats(args) -> int:
    import json
    from pathlib import Path

    from omr_data.stats import compute_stats, format_stats, save_stats, write_plots

    stats = compute_stats(args.dataset)
    out = Path(args.plots or Path(args.dataset) / "stats")
    plots = [] if args.no_plots else write_plots(stats, out)
    save_stats(stats, out)
    if args.json:
        print(json.dumps({k: v for k, v in stats.items() if not k.startswith("_")}, indent=2))
    else:
        print(format_stats(stats))
    print(f"stats: {stats['rows']} rows, {stats['rejected']} rejected, "
          f"{len(plots)} plots in {out}")
    if stats.get("published") and not args.plots:
        print(f"stats: note: {out} is inside the published repository; remove it before the "
              "next publish there, or pass --plots DIR", file=sys.stderr)
    return 0


def cmd_normalize(args) -> int:
    config = {"source": args.source, "image_root": args.image_root, "split": args.split,
              "max_image_pixels": args.max_image_pixels}
    return _run_stage_command("normalize", [args.input], args.output, config, args)


def cmd_distill(args) -> int:
    import os

    config = _flags(args, "teacher", "model", "n", "until_distinct", "max_n", "base_urls", "api_key_env", "concurrency",
                    "temperature", "top_p", "max_tokens", "max_requests_per_minute",
                    "max_tokens_per_minute", "request_deadline_s", "unreachable_after_s",
                    "max_image_pixels", "journal",
                    "system_prompt", "use_n_param", "request_timeout_s", "price_input_per_m",
                    "price_output_per_m", "gpu_hour_price", "backend", "tensor_parallel_size",
                    "gpu_memory_utilization", "max_model_len", "engine_kwargs",
                    "vllm_batch_size")
    if args.no_progress:
        config["progress"] = False
    if args.api_key:
        os.environ[args.api_key_env or "OPENAI_API_KEY"] = args.api_key
    if args.dry_run:
        from pathlib import Path

        from omr_data.distill import estimate
        from omr_data.store import DatasetDir

        journal = config.get("journal") or Path(args.output) / "journal.sqlite"
        plan = estimate(DatasetDir(args.input).iter_rows(), config,
                        journal if Path(journal).exists() else None)
        for key, value in plan.items():
            print(f"  {key}: {value}")
        print(f"distill --dry-run: {plan.get('requests', '?')} requests would be sent, "
              "nothing sent")
        return 0
    return _run_stage_command("distill", [args.input], args.output, config, args)


def cmd_verify(args) -> int:
    config = _flags(args, "judge", "judge_base_url", "judge_api_key_env", "judge_concurrency",
                    "judge_model", "judge_cache", "format_weight", "keep", "timeout_s")
    if args.math_workers is not None:
        config["workers"] = args.math_workers
    if args.no_require_format:
        config["require_format"] = False
    if args.relaxed:
        config["strict"] = False
    return _run_stage_command("verify", [args.input], args.output, config, args)


def cmd_dedup(args) -> int:
    if len(args.paths) < 2:
        raise CliError("dedup needs at least one input and an output: IN [IN ...] OUT")
    config = _flags(args, "against", "image_threshold", "fine_threshold", "text_threshold",
                    "text_only_threshold", "keep", "embedding_model", "embed_batch_size",
                    "cache_dir")
    return _run_stage_command("dedup", args.paths[:-1], args.paths[-1], config, args)


def cmd_mix(args) -> int:
    inputs, weights = [], []
    for item in args.inputs:
        path, _, spec = item.rpartition(":") if ":" in item else (item, "", "")
        inputs.append(path or item)
        weights.append(spec)
    config = {"weights": weights, "total": args.total, "stratify": not args.no_stratify}
    return _run_stage_command("mix", inputs, args.output, config, args)


def cmd_filter(args) -> int:
    config = _flags(args, "difficulty", "min_tokens", "max_tokens", "tokenizer", "max_samples",
                    "pass_rate_key", "perplexity_model", "max_perplexity",
                    "perplexity_max_tokens", "perplexity_batch_size", "perplexity_device",
                    "scorer", "min_score", "max_score", "model_workers")
    return _run_stage_command("filter", [args.input], args.output, config, args)


def cmd_pass_rate(args) -> int:
    config = _flags(args, "acc_key")
    return _run_stage_command("pass_rate", [args.questions, args.scored], args.output, config,
                              args)


def cmd_serve_teacher(args) -> int:
    from omr_data.distill.simulated import main as serve

    return serve(["--simulated", "--port", str(args.port), *args.passthrough]) or 0


def _flags(args, *names: str) -> dict:
    """Only the flags the user gave: preset/config defaults stay in charge of the rest."""
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def _run_stage_command(stage_name: str, inputs: list[str], output: str, config: dict,
                       args) -> int:
    from omr_data.executors import make_executor
    from omr_data.registry import stage_class
    from omr_data.runner import run_stage

    stage = stage_class(stage_name)({k: v for k, v in config.items() if v is not None})
    executor = make_executor("local", workers=args.workers) if args.workers else None
    result = run_stage(stage, inputs, output, executor=executor, seed=args.seed,
                       progress=not args.no_progress, overwrite=args.overwrite)
    print(result.summary)
    if result.all_rejected:
        print(f"omr-data {args.command}: error: every input row was rejected (reasons in "
              f"{output}/rejects/); nothing to pass on", file=sys.stderr)
        return 1
    return 0


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    message = text[0] if text else type(err).__name__
    if isinstance(err, (FileNotFoundError, PermissionError)) and err.filename:
        message = f"{err.filename}: {err.strerror}"
    return message


if __name__ == "__main__":
    sys.exit(main())
