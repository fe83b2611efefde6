"""Shared builders for the train_minimal tests."""

import io
from pathlib import Path

TRAIN_MINIMAL = Path(__file__).resolve().parents[2] / "train_minimal"


def png(color, size=(40, 30)) -> dict:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return {"bytes": buf.getvalue(), "path": None}
