"""`omr-data …`: a thin command line over the library.

A stage's verb takes its inputs, then its output (`IN … OUT`), and one flag per field of
the stage's config dataclass (`omr_data.config_cli`): the flags, their help and defaults
come from the fields, so adding an option to a stage is adding a field. Only options
that are not a stage's config (`run`, `publish`, `stats`, the runner's --workers, --seed,
--no-progress, --overwrite, distill's --api-key and --dry-run) are written here.

Heavy imports happen inside the commands, and a verb's config flags are added when that
verb is parsed or its help shown, so `omr-data --help` is instant. Every command ends
with a one-line summary; a failure is one readable line and a non-zero exit (`--debug`
shows the traceback).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omr_data import __version__
from omr_data.config_cli import add_config_flags, add_renamed_flag, given_config
from omr_data.privacy import mask_logs, mask_url

EXAMPLES = {
    "run": """examples:
  omr-data run pipelines/demo.yaml
  omr-data run pipelines/rl_74k.yaml --workdir /data/runs/rl --workers 16
  omr-data run pipelines/sft_874k.yaml --set llava_cot=/data/LLaVA-CoT-100k --check
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
  omr-data normalize --source virl39k /data/ViRL39K/39Krelease.parquet runs/virl \\
      --image-root /data/ViRL39K
  omr-data normalize --source mmk12 /data/MMK12 runs/mmk12_test --split test""",
    "distill": """examples:
  omr-data serve-teacher --simulated --port 8000 &   # offline, simulated teacher
  omr-data distill runs/llava runs/traces --teacher qwen3-vl-235b --n 8 \\
      --base-url http://127.0.0.1:8000/v1
  omr-data distill runs/llava runs/traces --teacher qwen3-vl-235b --n 8 \\
      --base-url http://gpu1:8000/v1 --base-url http://gpu2:8000/v1 --concurrency 256
  omr-data distill runs/llava runs/traces --teacher qwen3-vl-235b --n 8 \\
      --backend vllm --tensor-parallel-size 8
  omr-data distill runs/llava runs/traces --until-distinct 4 --max-n 8   # adaptive n
  omr-data distill runs/llava runs/traces --dry-run   # requests, tokens, cost; nothing sent""",
    "verify": """examples:
  omr-data verify runs/traces runs/verified
  omr-data verify runs/traces runs/verified --judge qwen3-235b-judge \\
      --judge-base-url http://gpu3:8000/v1""",
    "dedup": """examples:
  omr-data dedup runs/rl/gold runs/rl/dedup \\
      --against runs/bench/mathvista --against runs/bench/mmk12_test
  omr-data dedup runs/virl runs/mmk12 runs/tqa runs/rl/dedup --text-threshold 0.92 \\
      --keep most_images""",
    "mix": """examples:
  omr-data mix runs/verified runs/mmr1:0.5 runs/m1:20000 runs/sft     # inputs, then OUT
  omr-data mix runs/virl:0.25 runs/mmk12 runs/rl --total 50000 --seed 1""",
    "filter": """examples:
  omr-data filter runs/verified runs/x2 --max-samples 2        # ×2 subset of a ×8 run
  omr-data filter runs/verified runs/mid --difficulty 0.1:0.9
  omr-data filter runs/verified runs/long --min-response-tokens 200 \\
      --tokenizer Qwen/Qwen2.5-VL-7B-Instruct
  omr-data filter runs/rl runs/rl_mmk12 --source mmk12            # one source's rows""",
    "pass-rate": """examples:
  omr-data distill runs/rl runs/rollouts --teacher qwen3-vl-235b --model runs/sft --n 8 \\
      --base-url http://gpu1:8000/v1
  omr-data verify runs/rollouts runs/scored --keep all
  omr-data pass-rate runs/rl runs/scored runs/rl_with_pass_rate""",
    "serve-teacher": """examples:
  omr-data serve-teacher --simulated --port 8000
  omr-data serve-teacher --simulated --accuracy 0.6 --oracle runs/llava
  omr-data serve-teacher --simulated --port 0 --fault-rate 0.2   # a free port, injected faults""",
}


class CliError(Exception):
    """A failure to report as one line."""


@dataclass(frozen=True)
class StageVerb:
    """A verb that runs one stage: `INPUTS… OUT` plus the stage config's flags."""

    help: str
    inputs: tuple[str, ...]          # metavars of fixed inputs, or ("IN", "...") for 1+
    input_help: str | tuple[str, ...] = "input dataset directory"   # or one per input


#: the stage verbs: a stage's verb is its registry name with hyphens for underscores (CLI
#: verbs and flags use hyphens, YAML and Python underscores)
STAGE_VERBS = {
    "normalize": StageVerb("Read a public source in its own format into records.",
                           ("INPUT",), "file or folder in the source's own format"),
    "distill": StageVerb("Sample n reasoning traces per question from a teacher.", ("IN",)),
    "verify": StageVerb("Score traces (rules, math-verify, optional LLM judge); keep correct.",
                        ("IN",)),
    "dedup": StageVerb("Remove near-duplicates (image AND text) across inputs, and rows "
                       "matching evaluation benchmarks.", ("IN", "..."),
                       "input dataset directories (duplicates across them are found too)"),
    "mix": StageVerb("Concatenate datasets with per-input fractions or caps (seeded, "
                     "stratified by source, never oversampled).", ("IN[:weight|:cap]", "..."),
                     "dataset directory, optionally ':0.5' (a fraction) or ':5000' (a row cap)"),
    "filter": StageVerb("Source, difficulty, length, samples-per-question and model-score "
                        "filters.", ("IN",)),
    "pass-rate": StageVerb("Annotate questions with their pass rate from scored policy "
                           "rollouts (distill with the policy, then verify --keep all).",
                           ("QUESTIONS", "SCORED"),
                           ("the questions, e.g. the deduplicated RL set",
                            "their rollouts (distilled from the policy), scored by verify "
                            "--keep all")),
}

#: flags every stage verb has, unless its config has a field of that flag's name (distill's
#: --seed is its sampling seed, its --no-progress its config's progress)
RUNNER_FLAGS: dict[str, dict[str, Any]] = {
    "--workers": {"type": int, "help": "stage worker processes (default: run units inline)"},
    "--seed": {"type": int, "default": 0, "help": "the stage's seed (part of the cache key)"},
    "--no-progress": {"action": "store_true", "help": "no progress bars"},
    "--overwrite": {"action": "store_true",
                    "help": "replace an OUT that another omr-data stage wrote (only the files "
                            "it wrote; a folder holding other files is still refused)"},
}


class CommandParser(argparse.ArgumentParser):
    """A verb's parser that adds its late options (a stage config's flags, the simulated
    server's options) the first time it parses or shows help: their modules load only for
    the verb in use."""

    late_options: Callable[[argparse.ArgumentParser], None] | None = None

    def add_late_options(self) -> None:
        add, self.late_options = self.late_options, None
        if add is not None:
            add(self)

    def parse_known_args(self, args=None, namespace=None):
        self.add_late_options()
        return super().parse_known_args(args, namespace)

    def format_help(self) -> str:
        self.add_late_options()
        return super().format_help()

    def format_usage(self) -> str:
        self.add_late_options()
        return super().format_usage()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)

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

        print(f"omr-data {args.command}: error: {mask_url(_one_line(err))}", file=sys.stderr)
        return 1


def build_parser() -> argparse.ArgumentParser:

    parser = argparse.ArgumentParser(
        prog="omr-data",
        description="Build, verify and publish multimodal reasoning data (OpenMMReasoner recipe).",
        epilog="Run 'omr-data COMMAND --help' for a command's options and examples. Verbs and "
               "flags use hyphens (pass-rate, --max-tokens); recipe YAML and Python use "
               "underscores (pass_rate, max_tokens).")
    parser.add_argument("--version", action="version", version=f"omr-data {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=CommandParser)

    def command(name: str, help_text: str, handler: Callable) -> CommandParser:
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
    p.add_argument("--check", action="store_true",
                   help="validate the whole recipe (stages, keys, types, inputs) and exit")
    add_renamed_flag(p, "--dry-run", "--check (--dry-run is distill's request estimate)")
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

    for name, verb in STAGE_VERBS.items():
        p = command(name, verb.help, cmd_stage)
        if verb.inputs[-1] == "...":
            p.add_argument("inputs", nargs="+", metavar=verb.inputs[0], help=verb.input_help)
        else:
            for i, metavar in enumerate(verb.inputs):
                p.add_argument(f"input{i}", metavar=metavar, help=verb.input_help if
                               isinstance(verb.input_help, str) else verb.input_help[i])
        p.add_argument("output", metavar="OUT", help="output dataset directory: empty, or "
                       "written by this stage before")
        p.late_options = _stage_options(stage_name(name))
    p = sub.choices["distill"]
    p.add_argument("--api-key", help="API key (put in the environment variable named by "
                   "--api-key-env, default OPENAI_API_KEY; never stored in the manifest)")
    p.add_argument("--dry-run", action="store_true",
                   help="print how many requests would be sent, and a token/cost estimate")

    p = command("serve-teacher", "Serve an OpenAI-compatible teacher (simulated, offline).",
                cmd_serve_teacher)
    p.late_options = _simulated_server_options
    return parser


def stage_name(verb: str) -> str:
    return verb.replace("-", "_")


def _stage_options(name: str) -> Callable[[argparse.ArgumentParser], None]:
    def add(parser: argparse.ArgumentParser) -> None:
        from omr_data.registry import stage_class

        add_config_flags(parser, stage_class(name).Config)
        taken = set(parser._option_string_actions)
        for flag, kwargs in RUNNER_FLAGS.items():
            if flag not in taken:
                parser.add_argument(flag, **kwargs)
    return add


def _simulated_server_options(parser: argparse.ArgumentParser) -> None:
    from omr_data.distill.simulated import add_arguments

    add_arguments(parser)


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
    # the token comes from HF_TOKEN or the saved login, never from a flag (shell history)
    from datasets.utils.py_utils import convert_file_size_to_int

    from omr_data.hub import parse_part, publish, publish_release

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


def cmd_stage(args) -> int:
    """Any stage verb: its inputs, its output, and the config flags given."""
    verb = STAGE_VERBS[args.command]
    config = given_config(args)
    inputs = list(getattr(args, "inputs", None) or
                  [getattr(args, f"input{i}") for i in range(len(verb.inputs))])
    if args.command == "mix":
        inputs, config["weights"] = _mix_specs(inputs)
    if args.command == "distill":
        if args.api_key:
            import os

            os.environ[config.get("api_key_env") or "OPENAI_API_KEY"] = args.api_key
        if args.dry_run:
            return _distill_estimate(inputs[0], args.output, config)
    return _run_stage_command(stage_name(args.command), inputs, args.output, config, args)


def _mix_specs(items: list[str]) -> tuple[list[str], list[str]]:
    """`DIR:0.5` / `DIR:5000` / `DIR` -> the dirs and their specs ('' = all rows)."""

    inputs, weights = [], []
    for item in items:
        path, sep, spec = item.rpartition(":")
        if not sep or not path or not re.fullmatch(r"all|[0-9.]*", spec.strip().lower()):
            path, spec = item, ""
        inputs.append(path)
        weights.append(spec)
    return inputs, weights


def _distill_estimate(input_dir: str, output: str, config: dict) -> int:
    from omr_data.distill import estimate
    from omr_data.store import DatasetDir

    journal = config.get("journal") or Path(output) / "journal.sqlite"
    plan = estimate(DatasetDir(input_dir).iter_rows(), config,
                    journal if Path(journal).exists() else None)
    for key, value in plan.items():
        print(f"  {key}: {value}")
    print(f"distill --dry-run: {plan.get('requests', '?')} requests would be sent, "
          "nothing sent")
    return 0


def cmd_serve_teacher(args) -> int:
    from omr_data.distill.simulated import serve

    return serve(args) or 0


def _run_stage_command(stage_name: str, inputs: list[str], output: str, config: dict,
                       args) -> int:
    from omr_data.executors import make_executor
    from omr_data.registry import stage_class
    from omr_data.runner import run_stage

    stage = stage_class(stage_name)(config)
    executor = make_executor("local", workers=args.workers) if args.workers else None
    # a config's own progress field (distill) is its --no-progress; a config's own seed
    # field (distill's sampling seed) is its --seed, and the runner's seed stays 0
    progress = config.get("progress", not getattr(args, "no_progress", False))
    result = run_stage(stage, inputs, output, executor=executor,
                       seed=getattr(args, "seed", 0), progress=progress,
                       overwrite=args.overwrite)
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
