"""One adapter per public source, by name (docs/sources.md describes each source's files).

`SOURCES[name].read(path, image_root=…, split=…)` yields records (and rejects with a
reason) from one file or Hub dataset id; `.discover(folder, split)` lists a folder's data
files of the wanted split. The `normalize` stage (`omr_data.sources.stage`) runs them.
"""

from __future__ import annotations

from omr_data.sources.base import Adapter
from omr_data.sources.benchmarks import Benchmark
from omr_data.sources.chat import MMR1SFT, LlavaCoT, OmrSFT, OpenVLThinker, WeMath2SFT
from omr_data.sources.errors import RowError, SourceFileError
from omr_data.sources.miromind import MiroMindM1
from omr_data.sources.qa import (
    MMK12,
    AlgoPuzzleVQA,
    PuzzleVQA,
    ThinkLiteVL,
    ViRL39K,
    WeMath2Pro,
    WeMath2Standard,
)
from omr_data.sources.released import OmrRL
from omr_data.sources.tqa import TQA

SOURCES: dict[str, Adapter] = {
    # SFT sources with reasoning traces
    "llava_cot": LlavaCoT(),
    "openvlthinker": OpenVLThinker(),
    "wemath2_sft": WeMath2SFT(),
    "mmr1": MMR1SFT(),
    "miromind_m1": MiroMindM1(),
    # RL sources (question + gold answer)
    "mmk12": MMK12(),
    "virl39k": ViRL39K(),
    "tqa": TQA(),
    "wemath2_standard": WeMath2Standard(),
    "wemath2_pro": WeMath2Pro(),
    "puzzlevqa": PuzzleVQA(),
    "algopuzzlevqa": AlgoPuzzleVQA(),
    "thinklite_vl": ThinkLiteVL(),
    # the released OpenMMReasoner sets
    "omr_sft": OmrSFT(),
    "omr_rl": OmrRL(),
    # evaluation benchmarks (decontamination)
    "benchmark": Benchmark(),
}

__all__ = ["SOURCES", "Adapter", "RowError", "SourceFileError"]
