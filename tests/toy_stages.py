"""Small real stages used by the spine's tests (importable by spawned workers)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from omr_data.config_cli import option
from omr_data.records import make_record, make_reject
from omr_data.stage import Stage


@dataclass
class UppercaseConfig:
    sleep_s: float = option(0.0, operational=True, help="pause per unit (kill tests)")
    reject_word: str = field(default="", metadata={"help": "reject questions containing it"})
    log_path: str = option("", operational=True, help="append each processed unit's name")


class Uppercase(Stage):
    """Uppercases questions; rejects rows whose question contains `reject_word`."""

    name = "uppercase"
    Config = UppercaseConfig
    input_columns = ("question",)

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


@dataclass
class ShardTotalConfig:
    log_path: str = option("", operational=True, help="append each prepare unit's name")
    fail_merge: bool = option(False, operational=True, help="raise in prepare_merge (tests)")


class ShardTotal(Stage):
    """Counts rows per shard in parallel prepare units, merges the total, stamps it on rows."""

    name = "shard_total"
    Config = ShardTotalConfig

    def prepare_units(self, inputs, ctx):
        return self.plan(inputs)

    def prepare_unit(self, unit, ctx):
        import json
        if self.config.log_path:
            with open(self.config.log_path, "a") as log:
                log.write(unit.name + "\n")
        n = sum(1 for _ in ctx.read_rows(unit, columns=["id"]))
        out = ctx.workdir / "counts"
        out.mkdir(exist_ok=True)
        (out / f"{unit.name}.json").write_text(json.dumps({"rows": n}))
        ctx.count("shards_counted")

    def prepare_merge(self, inputs, ctx):
        import json
        if self.config.fail_merge:
            raise RuntimeError("merge failed on purpose")
        total = sum(json.loads(p.read_text())["rows"]
                    for p in (ctx.workdir / "counts").glob("*.json"))
        (ctx.workdir / "total.json").write_text(json.dumps({"rows": total}))

    def process(self, unit, ctx):
        import json

        from omr_data.records import update_meta
        total = json.loads((ctx.workdir / "total.json").read_text())["rows"]
        for row in ctx.read_rows(unit):
            yield update_meta(row, **{"toy.total": total})


class TwoRoundTotal(ShardTotal):
    """ShardTotal with a second prepare round: one unit per count file re-reads it; the
    second merge writes the total (a stand-in for dedup's scan → candidates → verify)."""

    name = "two_round_total"

    def prepare_unit(self, unit, ctx):
        import json
        if unit.info.get("round", 0) == 0:
            return super().prepare_unit(unit, ctx)
        if self.config.log_path:
            with open(self.config.log_path, "a") as log:
                log.write(unit.name + "\n")
        n = json.loads((ctx.workdir / "counts" / unit.info["file"]).read_text())["rows"]
        out = ctx.workdir / "checked"
        out.mkdir(exist_ok=True)
        (out / unit.info["file"]).write_text(json.dumps({"rows": n}))
        ctx.count("counts_checked")

    def prepare_merge(self, inputs, ctx):
        import json

        from omr_data.stage import WorkUnit
        if ctx.prepare_round == 0:
            files = sorted(p.name for p in (ctx.workdir / "counts").glob("*.json"))
            return [WorkUnit(f"check-{k}", (), {"file": f, "label": "check"})
                    for k, f in enumerate(files)]
        if self.config.fail_merge:
            raise RuntimeError("merge failed on purpose")
        total = sum(json.loads(p.read_text())["rows"]
                    for p in (ctx.workdir / "checked").glob("*.json"))
        (ctx.workdir / "total.json").write_text(json.dumps({"rows": total}))
        return None
