"""Fixtures for train_minimal: datasets published the real way, and the scripts' modules.

The trainer scripts live in `train_minimal/` (run as `python train_minimal/sft.py`, so their
helpers are sibling modules); the tests import them the same way.
"""

import os
import sys
from pathlib import Path

import pytest
from train_helpers import TRAIN_MINIMAL, png  # noqa: E402  (sibling helper module)

sys.path.insert(0, str(TRAIN_MINIMAL))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def sft_records(n: int = 16):
    from omr_data.records import make_record

    return [make_record(source="demo", source_id=str(i), question=f"What is {i}+{i}?",
                        answer=str(2 * i), answer_type="number",
                        images=[png((i * 15 % 255, 40, 90))] if i % 4 else [],
                        response=f"<think>{i}+{i}={2 * i}</think><answer>{2 * i}</answer>")
            for i in range(n)]


def rl_records(n: int = 8):
    from omr_data.records import make_record

    return [make_record(source="demo", source_id=str(i), question=f"What is {i}+{i}?",
                        answer=str(2 * i), answer_type="number",
                        images=[png((40, i * 15 % 255, 90), size=(40 + 8 * i, 30))])
            for i in range(n)]


@pytest.fixture(scope="session")
def hub(tmp_path_factory) -> Path:
    """A local Hub directory holding omr/sft-874k (mixed text/image) and omr/rl-74k."""
    from omr_data.hub import publish
    from omr_data.store import write_dataset

    root = tmp_path_factory.mktemp("published")
    write_dataset(root / "sft", sft_records())
    write_dataset(root / "rl", rl_records())
    publish([root / "sft"], "omr/sft-874k", version="v0.1", hub_dir=root / "hub")
    publish([root / "rl"], "omr/rl-74k", version="v0.1", hub_dir=root / "hub")
    return root / "hub"


@pytest.fixture(scope="session")
def processor():
    from tiny_vlm import build_processor

    return build_processor()
