"""Small real stages used by the spine's tests (importable by spawned workers)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from omr_data.records import make_record, make_reject
from omr_data.stage import Stage


@dataclass
class UppercaseConfig:
    sleep_s: float = field(default=0.0, metadata={"help": "pause per unit (kill tests)"})
    reject_word: str = field(default="", metadata={"help": "reject questions containing it"})
    log_path: str = field(default="", metadata={"help": "append each processed unit's name"})


class Uppercase(Stage):
    """Uppercases questions; rejects rows whose question contains `reject_word`."""

    name = "uppercase"
    Config = UppercaseConfig
    input_columns = ("question",)
    cache_exclude = ("log_path", "sleep_s")

    def process(self, unit, ctx):
        if self.config.log_path:
            with open(self.config.log_path, "a") as log:
                log.write(unit.name + "\n")
        time.sleep(self.config.sleep_s)
        for row in ctx.read_rows(unit):
            if self.config.reject_word and self.config.reject_word in row["question"]:
                yield make_reject(f"contains word: {self.config.reject_word}", **row)
                ctx.count("rejected_by_word")
                continue
            row["question"] = row["question"].upper()
            ctx.count("uppercased")
            yield row


def toy_records(n: int, source: str = "toy", with_images: bool = False):
    from io import BytesIO

    from PIL import Image

    for i in range(n):
        images = []
        if with_images:
            buf = BytesIO()
            Image.new("RGB", (8, 8), (i % 255, 10, 20)).save(buf, format="PNG")
            images = [{"bytes": buf.getvalue(), "path": f"img{i}.png"}]
        yield make_record(source=source, source_id=str(i), question=f"question {i}?",
                          answer=str(i), answer_type="number", images=images)
