"""`make demo`: both recipes end to end, offline, then load the results back and train.

Runs the checkout's `pipelines/demo.yaml` on its bundled `samples/` with the simulated
teacher, publishes to `./hub`, loads each published dataset back with
`datasets.load_dataset` (images decoded), and, where `train_minimal/` is present, trains a
tiny model a few steps on each. The recipe, samples and trainer are found beside this
package (a source checkout), whatever the working directory; the outputs (`runs/demo`,
`hub/`) go to the working directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from omr_data.recipe import Recipe, load_recipe, run_recipe

CHECKOUT = Path(__file__).resolve().parents[1]   # holds pipelines/, samples/, train_minimal/
RECIPE = CHECKOUT / "pipelines" / "demo.yaml"
SAMPLES = CHECKOUT / "samples"
HUB = Path("hub")
REPOS = ("omr/sft-874k", "omr/rl-74k")


def load_back(repo: str) -> str:
    import datasets

    cwd = os.getcwd()
    os.chdir(HUB)  # load_dataset("omr/…") finds the local repo in the working directory
    try:
        ds = datasets.load_dataset(repo, split="train")
    finally:
        os.chdir(cwd)
    images = sum(len(row["images"]) for row in ds)
    first = next((row for row in ds if row["images"]), None)
    decoded = type(first["images"][0]).__name__ if first else "no images"
    return (f"load_dataset({repo!r}): {len(ds)} rows, columns {ds.column_names}, "
            f"{images} images (decoded as {decoded})")


def train(script: str, dataset: str, steps: int) -> str:
    path = CHECKOUT / "train_minimal" / script
    if not path.exists():
        return f"{_shown(path)}: not present, training skipped"
    start = time.perf_counter()
    cmd = [sys.executable, str(path), "--tiny", "--max-steps", str(steps),
           "--dataset", str(HUB / dataset), "--output-dir", f"runs/demo/train/{script[:-3]}"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit(f"demo: {' '.join(cmd)} failed (exit {proc.returncode})")
    return f"{_shown(path)} --tiny: {steps} steps in {time.perf_counter() - start:.0f}s"


def _shown(path: Path) -> str:
    """`path` relative to the working directory when it lies below it, else absolute."""
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def demo_recipe() -> Recipe:
    """The checkout's demo recipe, its inputs pointed at the checkout's samples/."""
    if not RECIPE.exists() or not SAMPLES.is_dir():
        raise SystemExit(f"demo: needs a source checkout ({RECIPE} and {SAMPLES} are missing "
                         "from this install): git clone the repository and run `make demo`")
    # relative where it can be, so the published cards read the same from the checkout
    return load_recipe(RECIPE, overrides={"samples": _shown(SAMPLES)})


def main() -> int:
    start = time.perf_counter()
    print(f"== omr-data demo: {_shown(RECIPE)} (offline; the teacher and judge are SIMULATED)")
    reports = run_recipe(demo_recipe())
    print("\n== loading the published datasets back")
    for repo in REPOS:
        print("  " + load_back(repo))
    print("\n== training a tiny random Qwen2.5-VL a few steps (CPU)")
    print("  " + train("sft.py", REPOS[0], 3))
    print("  " + train("gspo.py", REPOS[1], 2))
    stages = [r for r in reports if r.result is not None]
    rejected = sum(r.result.manifest["rejected"] for r in stages)
    print(f"\ndemo: {len(reports)} steps ({sum(r.result.cached for r in stages)} cached), "
          f"{rejected} rows rejected with reasons, published {', '.join(REPOS)} to {HUB}/ "
          f"in {time.perf_counter() - start:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
