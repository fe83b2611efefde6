#!/usr/bin/env bash
# A few real steps of sft.py and gspo.py (GSPO, then DAPO) on one GPU with the tiny
# Qwen2.5-VL, printing step times. Works offline with only carried wheels:
#
#   train_minimal/gpu_smoke.sh WHEEL_DIR [OUT_DIR] [HUB_DIR]
#
# WHEEL_DIR holds wheels for what the machine lacks (trl, datasets and their small deps;
# the project itself is used from this checkout). Each is installed with --no-index
# --no-deps, and only if its module is missing. HUB_DIR is a published Hub layout (e.g.
# what `make demo` writes to ./hub); without it a small one is written with `datasets`.
set -euo pipefail

WHEELS=${1:?usage: gpu_smoke.sh WHEEL_DIR [OUT_DIR] [HUB_DIR]}
OUT=${2:-runs/gpu-smoke}
HUB=${3:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-python}
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$OUT"

echo "== environment"
$PY - <<'EOF'
import platform, torch, transformers
print(f"python {platform.python_version()}  torch {torch.__version__}  "
      f"transformers {transformers.__version__}  cuda {torch.cuda.is_available()}")
if torch.cuda.is_available():
    print("gpu:", torch.cuda.get_device_name(0))
EOF

echo "== installing carried wheels (only missing modules)"
declare -A MODULE=([trl]=trl [datasets]=datasets [dill]=dill [multiprocess]=multiprocess
                   [xxhash]=xxhash [fsspec]=fsspec [pyarrow]=pyarrow [pandas]=pandas
                   [math_verify]=math_verify [latex2sympy2_extended]=latex2sympy2_extended
                   [antlr4_python3_runtime]=antlr4 [sympy]=sympy [mpmath]=mpmath
                   [omr_data]=omr_data)
for project in $(ls "$WHEELS"/*.whl | xargs -n1 basename | cut -d- -f1 | sort -u); do
    module=${MODULE[$project]:-$project}
    if $PY -c "import $module" 2>/dev/null; then
        echo "   $project: present"
    elif $PY -m pip install -q --no-index --no-deps --find-links "$WHEELS" "$project"; then
        echo "   $project: installed"
    else
        echo "   $project: no wheel for this Python" >&2
    fi
done
$PY -c "import trl, datasets, omr_data.verify; print('   trl', trl.__version__, 'datasets', datasets.__version__)"

if [ -z "$HUB" ]; then
    HUB="$OUT/hub"
    echo "== writing a small published-layout dataset to $HUB"
    $PY - "$HUB" <<'EOF'
import sys
from pathlib import Path
from datasets import Dataset, Features, Image, List, Value
from PIL import Image as PILImage

hub = Path(sys.argv[1])
part = {"type": Value("string"), "text": Value("string")}
turns = List({"role": Value("string"), "content": List(part)})
def user(i, image):
    content = ([{"type": "image", "text": None}] if image else []) + [
        {"type": "text", "text": f"What is {i}+{i}?"}]
    return {"role": "user", "content": content}
def picture(i):
    return [PILImage.new("RGB", (64 + 8 * i, 48), (i * 15 % 255, 40, 90))]
sft = [{"id": f"demo/{i}", "source": "demo", "images": picture(i) if i % 4 else [],
        "messages": [user(i, i % 4), {"role": "assistant", "content": [
            {"type": "text", "text": f"<think>{i}+{i}={2*i}</think><answer>{2*i}</answer>"}]}]}
       for i in range(32)]
rl = [{"id": f"demo/{i}", "source": "demo", "images": picture(i), "prompt": [user(i, True)],
       "answer": str(2 * i), "answer_type": "number", "choices": None, "pass_rate": None}
      for i in range(32)]
common = {"id": Value("string"), "source": Value("string"), "images": List(Image())}
for name, rows, extra in (
        ("sft-874k", sft, {"messages": turns}),
        ("rl-74k", rl, {"prompt": turns, "answer": Value("string"),
                        "answer_type": Value("string"), "choices": List(Value("string")),
                        "pass_rate": Value("float64")})):
    path = hub / "omr" / name / "data" / "train-00000-of-00001.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    Dataset.from_list(rows, features=Features({**common, **extra})).to_parquet(str(path))
print("   wrote", hub / "omr")
EOF
fi

run() {
    local name=$1; shift
    echo "== $name: $*"
    local start=$(date +%s%N)
    $PY "$ROOT/train_minimal/$@" > "$OUT/$name.log" 2>&1 || { tail -n 40 "$OUT/$name.log"; exit 1; }
    grep -v -E "examples/s|it/s\]|s/it\]|Warning|warnings.warn" "$OUT/$name.log" | tail -n 8 || true
    echo "   $name wall time: $(( ($(date +%s%N) - start) / 1000000 )) ms"
}

run sft sft.py --tiny --hub-dir "$HUB" --output-dir "$OUT/sft" --max-steps 20 \
    --learning-rate 1e-2 --per-device-train-batch-size 4 --num-train-epochs 100
run gspo gspo.py --tiny --model-name-or-path "$OUT/sft" --hub-dir "$HUB" \
    --output-dir "$OUT/gspo" --max-steps 4 --prompts-per-step 4 --save-steps 2
run dapo gspo.py --tiny --algo dapo --model-name-or-path "$OUT/sft" --hub-dir "$HUB" \
    --output-dir "$OUT/dapo" --max-steps 2 --prompts-per-step 4

echo "== step times"
$PY - "$OUT" <<'EOF'
import json, math, sys
from pathlib import Path
out, ok = Path(sys.argv[1]), True
for name in ("sft", "gspo", "dapo"):
    summary = json.loads((out / name / "train_summary.json").read_text())
    records = [json.loads(l) for l in (out / name / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in records if "loss" in r]
    steps = [round(r["step_time"], 3) for r in records if "step_time" in r]
    finite = all(isinstance(x, float) and math.isfinite(x) for x in losses)
    ok &= finite and bool(losses)
    print(f"{name}: {summary['steps']} steps, {summary['seconds_per_step']} s/step overall"
          + (f", per-step times {steps}" if steps else "")
          + f", last loss {losses[-1] if losses else None}, finite {finite}")
    if name != "sft":
        last = [r for r in records if "reward" in r][-1]
        print(f"   reward {last['reward']:.3f}  acc {last['rewards/accuracy_reward/mean']:.3f}  "
              f"format {last['rewards/format_reward/mean']:.3f}  "
              f"length {last['completions/mean_length']:.1f}  "
              f"clip {last['clip_ratio/region_mean']:.4f}"
              + (f"  kept groups {last['dynamic_sampling/kept_groups_frac']:.2f}"
                 if "dynamic_sampling/kept_groups_frac" in last else ""))
sys.exit(0 if ok else 1)
EOF
echo "gpu smoke: ok"
