"""The `normalize` stage: raw files of one public source -> records in the common format.

    omr-data normalize --source NAME INPUT OUT [--image-root DIR] [--split S]

Each data file of the input (a file, a folder or a Hub dataset id) is one work unit, so
files normalize in parallel and a rerun redoes only unfinished ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from omr_data.images import DEFAULT_MAX_PIXELS
from omr_data.sources import SOURCES
from omr_data.sources.errors import SourceFileError
from omr_data.sources.readers import is_hub_id
from omr_data.stage import ConfigError, Stage, StageContext, WorkUnit


@dataclass
class NormalizeConfig:
    source: str = field(default="", metadata={
        "help": f"source adapter, one of: {', '.join(SOURCES)}"})
    image_root: str | None = field(default=None, metadata={
        "help": "folder that relative image paths resolve against (default: the input "
                "folder, or the input file's folder)"})
    max_image_pixels: int = field(default=DEFAULT_MAX_PIXELS, metadata={
        "help": "images above this many pixels are downscaled to fit (aspect kept; JPEG "
                "stays JPEG, other formats become PNG); images too large to decode safely "
                "(over 64 Mpx after JPEG's reduced decoding) are rejected"})
    split: str | None = field(default=None, metadata={
        "help": "split to read from a folder input (default: the source's training split; "
                "e.g. 'test' for the MMK12 benchmark; for --source benchmark a benchmark "
                "name such as 'mathvista' also works)"})

    def __post_init__(self):
        if not self.source:
            raise ConfigError(f"normalize needs --source NAME; known sources: "
                              f"{', '.join(SOURCES)}")
        if self.source not in SOURCES:
            raise ConfigError(f"unknown source {self.source!r}; known sources: "
                              f"{', '.join(SOURCES)}")
        if self.max_image_pixels < 28 * 28:
            raise ConfigError(f"max_image_pixels must be >= 784, got {self.max_image_pixels}")
        if self.image_root is not None and not Path(self.image_root).is_dir():
            raise ConfigError(f"image_root {self.image_root!r} is not a folder; point "
                              "--image-root at the folder the image paths are relative to")


class NormalizeStage(Stage):
    name = "normalize"
    Config = NormalizeConfig
    reads = "files"
    # Every field changes the output (which files, which images are found): none operational.

    @property
    def adapter(self):
        return SOURCES[self.config.source]

    def check_inputs(self, inputs: list[str]) -> None:
        super().check_inputs(inputs)
        for path in inputs:
            try:
                if not self.adapter.discover(path, self.config.split):
                    raise ConfigError(f"{path}: no data files (.jsonl, .json, .parquet, "
                                      f".arrow) found for source {self.config.source!r}")
            except SourceFileError as err:
                raise ConfigError(str(err)) from None

    def plan(self, inputs: list[str]) -> list[WorkUnit]:
        units = []
        for i, path in enumerate(inputs):
            for file in self.adapter.discover(path, self.config.split):
                units.append(WorkUnit(f"unit-{len(units):05d}", (str(file),),
                                      {"input": i, "image_root": self.image_root(path)}))
        return units

    def accepts_remote_input(self, path: str) -> bool:
        return is_hub_id(path)

    def fingerprint_input(self, path: str) -> str | None:
        """A Hub dataset id is fingerprinted by name and split (its files are not here)."""
        if not Path(path).exists() and is_hub_id(path):
            key = f"hub-dataset:{path}:{self.config.split or ''}"
            return hashlib.sha256(key.encode()).hexdigest()
        return None

    def image_root(self, input_path: str) -> str | None:
        if self.config.image_root is not None:
            return str(Path(self.config.image_root).resolve())
        path = Path(input_path)
        if path.is_dir():
            return str(path.resolve())
        if path.is_file():
            return str(path.resolve().parent)
        return None   # a Hub dataset id: images come embedded

    def rows_in(self, inputs: list[str]) -> int | None:
        return None

    def process(self, unit: WorkUnit, ctx: StageContext) -> Iterator[dict]:
        root = unit.info.get("image_root")
        for row in self.adapter.read(unit.paths[0], image_root=root, split=self.config.split,
                                     max_image_pixels=self.config.max_image_pixels):
            if "reason" in row:
                ctx.count("rejected")
            else:
                ctx.count(f"answer_type.{row['answer_type']}")
            yield row


__all__ = ["NormalizeStage", "NormalizeConfig"]
