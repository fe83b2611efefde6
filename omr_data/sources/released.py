"""The released OpenMMReasoner-RL-74K (verl layout): `{data_source, prompt, images,
reward_model: {ground_truth, style}, avg_reward, extra_info?, ability?}`.

The prompt holds an identical system turn and the user turn with `<image>` placeholders;
`ground_truth` conventions differ per source, so it goes through the normalization of
docs/sources.md §0 and the original stays in `meta.raw_answer`. The SFT-874K layout is
`chat.OmrSFT`.
"""

from __future__ import annotations

from collections.abc import Iterator

from omr_data.sources.base import Adapter, ReadContext, as_list, extras
from omr_data.sources.chat import conversation
from omr_data.sources.errors import RowError


class OmrRL(Adapter):
    name = "omr_rl"
    description = ("OpenMMReasoner/OpenMMReasoner-RL-74K (verl): data_source, prompt, images, "
                   "reward_model.ground_truth, avg_reward; train configs by default, "
                   "--split val for validation")

    def convert(self, row: dict, index: int, ctx: ReadContext) -> Iterator[dict]:
        source = str(row.get("data_source") or ctx.key)
        extra = row.get("extra_info") if isinstance(row.get("extra_info"), dict) else {}
        local = extra.get("index") if extra.get("index") is not None else ctx.row_id(index)
        sid = f"{source}/{local}"
        try:
            system, turns = conversation(as_list(row.get("prompt")))
            if len(turns) != 1:
                raise RowError(f"bad row: expected one user turn in prompt, got {len(turns)}")
            reward = row.get("reward_model") or {}
            if not isinstance(reward, dict):
                raise RowError(f"bad row: reward_model is {type(reward).__name__}")
            answer = reward.get("ground_truth")
            if answer is None and extra.get("answer") is not None:
                answer = extra["answer"]
            if answer is None or not str(answer).strip():
                raise RowError("missing answer")
            images = [ctx.images.load(v) for v in as_list(row.get("images"))]
        except RowError as err:
            err.source_id = err.source_id or sid
            raise
        meta = extras(row, {"prompt", "images", "reward_model"})
        meta["reward_style"] = reward.get("style")
        if system:
            meta["system"] = system[0]
        if row.get("avg_reward") is not None:
            meta["pass_rate"] = row["avg_reward"]
        yield self.qa_record(source_id=sid, question=turns[0].question, answer=answer,
                             images=images, meta=meta)
