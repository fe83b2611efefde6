"""miromind-ai/MiroMind-M1-SFT-719K: text-only math, `{id, question, response}`.

There is no answer column: the gold answer is the `\\boxed{}` after `</think>` of the
R1-style response (rows without one are rejected; several different boxed values in the
final paragraph are a list answer `2, 3` with `meta.answer_list`, spread over the solution
they are rejected as ambiguous), and the response becomes
`<think>{reasoning}</think><answer>{answer}</answer>`.
"""

from __future__ import annotations

from collections.abc import Iterator

from omr_data.sources.answers import Answer
from omr_data.sources.base import Adapter, ReadContext, extras, first_present
from omr_data.sources.errors import RowError
from omr_data.sources.traces import r1_think_and_answers


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
            think, answers = r1_think_and_answers(response)
        except RowError as err:
            err.source_id = sid
            raise
        meta = extras(row, {"id", "question", "response"})
        meta["source_trace"] = response
        answer: str | Answer = answers[0]
        if len(answers) > 1:
            # several final answers (`\\boxed{2} and \\boxed{3}`): all of them, as a list
            joined = ", ".join(answers)
            answer = Answer(value=joined, type="expression", unit=None, display=joined,
                            raw=joined)
            meta["answer_list"] = answers
        yield self.qa_record(source_id=sid, question=row.get("question"), answer=answer,
                             meta=meta, think=think)
