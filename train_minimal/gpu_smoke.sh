#!/usr/bin/env bash
# Real steps of sft.py and gspo.py on this machine's GPUs with the tiny Qwen2.5-VL: SFT on
# one GPU, then SFT, GSPO, GRPO (KL against a reference model) and DAPO (re-sampling) under
# FSDP2 on every visible GPU (configs/fsdp2_8gpu.yaml with --num_processes = GPU count), and
# GSPO with vLLM colocated when vLLM imports. It prints step times and, at the end, what it
# skipped and why. Works offline with only carried wheels:
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
for project in $(ls "$WHEELS"/*.whl 2>/dev/null | xargs -r -n1 basename | cut -d- -f1 | sort -u); do
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

SKIPPED=()
GPUS=$($PY -c "import torch; print(torch.cuda.device_count())")
ACCELERATE="$PY -m accelerate.commands.launch --config_file $ROOT/train_minimal/configs/fsdp2_8gpu.yaml --num_processes $GPUS"

run() {   # run NAME LAUNCHER SCRIPT ARGS...
    local name=$1 launcher=$2 script=$3; shift 3
    echo "== $name: $launcher $script $*"
    local start=$(date +%s%N)
    $launcher "$ROOT/train_minimal/$script" "$@" > "$OUT/$name.log" 2>&1 \
        || { tail -n 40 "$OUT/$name.log"; exit 1; }
    grep -v -E "examples/s|it/s\]|s/it\]|Warning|warnings.warn" "$OUT/$name.log" | tail -n 8 || true
    echo "   $name wall time: $(( ($(date +%s%N) - start) / 1000000 )) ms"
}

RUNS=(sft)
run sft "$PY" sft.py --tiny --hub-dir "$HUB" --output-dir "$OUT/sft" --max-steps 20 \
    --learning-rate 1e-2 --per-device-train-batch-size 4 --num-train-epochs 100
if [ "$GPUS" -ge 1 ]; then
    # RL layout for N processes: 2N prompts × 4 rollouts, 4 per device, 2 micro-steps a batch
    RL=(--tiny --model-name-or-path "$OUT/sft" --hub-dir "$HUB" --prompts-per-step $((2 * GPUS))
        --per-device-train-batch-size 4 --max-steps 2)
    run sft-fsdp "$ACCELERATE" sft.py --tiny --hub-dir "$HUB" --output-dir "$OUT/sft-fsdp" \
        --max-steps 4 --learning-rate 1e-6
    run gspo "$ACCELERATE" gspo.py "${RL[@]}" --output-dir "$OUT/gspo"
    run grpo "$ACCELERATE" gspo.py "${RL[@]}" --algo grpo --output-dir "$OUT/grpo"
    run dapo "$ACCELERATE" gspo.py "${RL[@]}" --algo dapo --dynamic-sampling-max-rounds 4 \
        --output-dir "$OUT/dapo"
    RUNS+=(sft-fsdp gspo grpo dapo)
    if $PY -c "import vllm" 2>/dev/null; then
        run gspo-vllm "$ACCELERATE" gspo.py "${RL[@]}" --use-vllm --vllm-mode colocate \
            --vllm-gpu-memory-utilization 0.3 --output-dir "$OUT/gspo-vllm"
        RUNS+=(gspo-vllm)
    else
        SKIPPED+=("vLLM colocate: vllm does not import here: $($PY -c 'import vllm' 2>&1 | tail -n 1)")
    fi
else
    SKIPPED+=("FSDP, GSPO, GRPO (KL), DAPO and vLLM: no GPU visible")
fi
SKIPPED+=("vLLM server mode: needs GPUs of its own and vLLM >= 0.30")
SKIPPED+=("the paper's lengths (4,096 + 28,696 tokens) on a 7B: hours of GPU time; see the memory table in train_minimal/README.md")

echo "== step times (GPUs visible: $GPUS)"
$PY - "$OUT" "${RUNS[@]}" <<'EOF'
import json, math, sys
from pathlib import Path
out, ok = Path(sys.argv[1]), True
for name in sys.argv[2:]:
    summary = json.loads((out / name / "train_summary.json").read_text())
    records = [json.loads(l) for l in (out / name / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in records if "loss" in r]
    steps = [round(r["step_time"], 3) for r in records if "step_time" in r]
    finite = all(isinstance(x, float) and math.isfinite(x) for x in losses)
    ok &= finite and bool(losses)
    print(f"{name}: {summary['steps']} steps, {summary['seconds_per_step']} s/step overall"
          + (f", per-step times {steps}" if steps else "")
          + f", last loss {losses[-1] if losses else None}, finite {finite}, "
          f"weights {summary.get('weights_dtype')}")
    if not name.startswith("sft"):
        last = [r for r in records if "reward" in r][-1]
        print(f"   reward {last['reward']:.3f}  acc {last['rewards/accuracy_reward/mean']:.3f}  "
              f"format {last['rewards/format_reward/mean']:.3f}  "
              f"length {last['completions/mean_length']:.1f}  "
              f"clip {last['clip_ratio/region_mean']:.4f}"
              + (f"  kl {last['kl']:.5f}" if "kl" in last else ""))
    if "dynamic_sampling" in summary:
        print(f"   dynamic sampling: {summary['dynamic_sampling']}")
sys.exit(0 if ok else 1)
EOF
echo "== skipped"
for reason in "${SKIPPED[@]}"; do echo "   - $reason"; done
echo "gpu smoke: ok"
