import sys
from pathlib import Path

# the labelled-set generator is test data shared with the benchmark: it lives in bench/
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
