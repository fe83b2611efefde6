"""miromind-ai/MiroMind-M1-SFT-719K: text-only math, `{id, question, response}`.

There is no answer column: the gold answer is the last `\\boxed{}` after `</think>` of the
R1-style response (rows without one are rejected), and the response becomes
`<think>{reasoning}</think><answer>{answer}</answer>`.
"""

from __future__ import annotations

from typing import Iterator

from omr_data.sources.base import Adapter, ReadContext, extras, first_present
from omr_data.sources.errors import RowError
from omr_data.sources.traces import r1_think_and_answer


class MiroMindM1(Adapter):
    name = "miromind_m1"
    description = ("miromind-ai/MiroMind-M1-SFT-719K {id, question, response}: text-only; "
                   "answer = last \\boxed{} after </think>")
    default_split = "train"

    def convert(self, row: dict, index: int, ctx: ReadContext) -> Iterator[dict]:
        _, rid = first_present(row, "id")
        sid = str(rid) if rid is not None else ctx.row_id(index)
        try:
            response = row.get("response")
            if not isinstance(response, str) or not response.strip():
                raise RowError("missing answer: no response")
            think, answer = r1_think_and_answer(response)
        except RowError as err:
            err.source_id = sid
            raise
        meta = extras(row, {"id", "question", "response"})
        meta["source_trace"] = response
        yield self.qa_record(source_id=sid, question=row.get("question"), answer=answer,
                             meta=meta, think=think)
