"""Conversation-shaped SFT sources: LLaVA-CoT, OpenVLThinker, We-Math2.0-SFT, MMR1-SFT and
the released OpenMMReasoner-SFT-874K.

They share one shape — a list of turns (`{from, value}` or `{role, content}`, content a
string or a list of parts) plus images — and differ in where the id, the images and the
gold answer are and how the assistant's trace is written. Each user/assistant pair becomes
one record; a conversation with several pairs gives `_t1`, `_t2`… with the earlier turns in
`meta.history`.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omr_data.records import update_meta
from omr_data.sources.base import Adapter, ReadContext, as_list, extras, first_present
from omr_data.sources.errors import RowError
from omr_data.sources.readers import column_values, earlier_siblings
from omr_data.sources.text import clean_question, count_placeholders
from omr_data.sources.traces import (
    llava_cot_sections,
    llava_cot_think,
    think_and_answer,
)

_USER = {"human", "user"}
_ASSISTANT = {"gpt", "assistant", "model", "bot"}


@dataclass
class Turn:
    question: str
    reply: str | None = None
    image_refs: list = field(default_factory=list)   # images named inside the message parts


def conversation(messages: Any) -> tuple[list[str], list[Turn]]:
    """(system texts, user/assistant turns) of a conversation in either common shape."""
    if not isinstance(messages, list) or not messages:
        raise RowError("bad conversation: expected a non-empty list of messages")
    system, turns, pending = [], [], None
    for number, message in enumerate(messages):
        if not isinstance(message, dict):
            raise RowError(f"bad conversation: message {number} is not an object")
        role = str(message.get("role", message.get("from", ""))).lower()
        text, refs = message_content(message.get("content", message.get("value")))
        if role == "system":
            system.append(text)
        elif role in _USER:
            if pending is not None:
                turns.append(pending)
            pending = Turn(text, None, refs)
        elif role in _ASSISTANT:
            if pending is None:
                raise RowError(f"bad conversation: message {number} answers no question")
            pending.reply = text
            turns.append(pending)
            pending = None
        else:
            raise RowError(f"bad conversation: message {number} has unknown role {role!r}")
    if pending is not None:
        turns.append(pending)
    if not turns:
        raise RowError("bad conversation: no user turn")
    return system, turns


def message_content(content: Any) -> tuple[str, list]:
    """Text and image references of a message's content (a string or a list of parts)."""
    if content is None:
        return "", []
    if isinstance(content, str):
        return content, []
    if isinstance(content, dict):
        content = [content]
    texts, refs = [], []
    for part in content:
        if isinstance(part, str):
            texts.append(part)
            continue
        kind = part.get("type")
        if kind == "text" or (kind is None and part.get("text")):
            texts.append(part.get("text") or "")
        elif kind == "image_url" or part.get("image_url"):
            url = part.get("image_url")
            refs.append(url.get("url") if isinstance(url, dict) else url)
        elif kind == "image" and part.get("image") is not None:
            refs.append(part["image"])
    return "\n".join(t for t in texts if t), refs


class ChatAdapter(Adapter):
    """A conversation source. Subclasses choose the id and image columns, gold-answer columns
    (which win over the answer read from the trace) and how a reply is split."""

    id_columns: tuple[str, ...] = ("id",)
    image_columns: tuple[str, ...] = ("images", "image")
    answer_columns: tuple[str, ...] = ()
    image_prefixes: tuple[str, ...] = ("",)
    #: OpenVLThinker's rule: as many `<image>` tokens as images
    check_image_count: bool = False

    def source_id(self, row: dict, index: int, ctx: ReadContext) -> str:
        _, value = first_present(row, *self.id_columns)
        return str(value) if value is not None else ctx.row_id(index)

    def split_reply(self, reply: str) -> tuple[str, str | None]:
        """(reasoning, answer text) of an assistant reply."""
        return think_and_answer(reply)

    def convert(self, row: dict, index: int, ctx: ReadContext) -> Iterator[dict]:
        sid = self.source_id(row, index, ctx)
        conv_key, messages = first_present(row, "messages", "conversations", "conversation")
        if conv_key is None:
            yield self.plain_row(row, sid, ctx)
            return
        try:
            system, turns = conversation(messages)
            image_key, image_values = first_present(row, *self.image_columns)
            refs = as_list(image_values) + [r for t in turns for r in t.image_refs]
            if self.check_image_count:
                tokens = sum(count_placeholders(t.question) for t in turns)
                if tokens != len(refs):
                    raise RowError(f"image count mismatch: {tokens} <image> tokens, "
                                   f"{len(refs)} images")
            images = [ctx.images.load(ref, prefixes=self.image_prefixes) for ref in refs]
        except RowError as err:
            err.source_id = err.source_id or sid
            raise
        answer_key, gold = first_present(row, *self.answer_columns)
        meta = extras(row, {"messages", "conversations", "conversation", image_key,
                            answer_key, *self.id_columns})
        if system:
            meta["system"] = system if len(system) > 1 else system[0]
        yield from self.turn_records(sid, turns, images, meta, gold if len(turns) == 1 else None,
                                     row)

    def turn_records(self, sid: str, turns: list[Turn], images: list, meta: dict, gold: Any,
                     raw: Any) -> Iterator[dict]:
        history = []
        for k, turn in enumerate(turns, start=1):
            tid = sid if len(turns) == 1 else f"{sid}_t{k}"
            turn_meta = dict(meta)
            if len(turns) > 1:
                turn_meta.update(turn=k, turns=len(turns), history=list(history))
            yield self.guarded(tid, raw, functools.partial(self.turn_record, tid, turn, images,
                                                           turn_meta, gold))
            history.append({"question": clean_question(turn.question), "reply": turn.reply})

    def turn_record(self, tid: str, turn: Turn, images: list, meta: dict, gold: Any) -> dict:
        if turn.reply is None or not turn.reply.strip():
            raise RowError("missing answer: the question has no reply", source_id=tid)
        think, answer_text = self.split_reply(turn.reply)
        answer = gold if gold is not None else answer_text
        if answer is None or not str(answer).strip():
            raise RowError("missing answer: none in the reply (no <answer>, \\boxed{} or "
                           "number)", source_id=tid)
        meta["source_trace"] = turn.reply
        return self.qa_record(source_id=tid, question=turn.question, answer=answer,
                              images=images, meta=meta, think=think)

    def plain_row(self, row: dict, sid: str, ctx: ReadContext) -> dict:
        """A row with question/answer columns instead of a conversation."""
        q_key, question = first_present(row, "question", "problem", "query", "prompt")
        a_key, answer = first_present(row, *self.answer_columns, "answer", "gt_answer",
                                      "ground_truth")
        t_key, trace = first_present(row, "response", "solution", "output", "cot")
        if q_key is None:
            raise RowError("bad row: no conversation (messages/conversations) and no question "
                           f"column; columns: {', '.join(sorted(row))}", source_id=sid)
        think = None
        if trace is not None:
            think, traced = self.split_reply(str(trace))
            answer = answer if answer is not None else traced
        if answer is None:
            raise RowError("missing answer", source_id=sid)
        i_key, image_values = first_present(row, *self.image_columns)
        try:
            images = [ctx.images.load(v, prefixes=self.image_prefixes)
                      for v in as_list(image_values)]
        except RowError as err:
            err.source_id = sid
            raise
        meta = extras(row, {q_key, a_key, t_key, i_key, *self.id_columns})
        if trace is not None:
            meta["source_trace"] = trace
        return self.qa_record(source_id=sid, question=question, answer=answer, images=images,
                              meta=meta, think=think)


class LlavaCoT(ChatAdapter):
    name = "llava_cot"
    description = ("Xkev/LLaVA-CoT-100k train.jsonl: {id, image, conversations}; "
                   "SUMMARY/CAPTION/REASONING/CONCLUSION traces; images under --image-root")
    image_columns = ("image", "images")
    # The archive root is uncertain (one loader adds `images/`); try both.
    image_prefixes = ("", "images")

    def split_reply(self, reply: str) -> tuple[str, str | None]:
        sections = llava_cot_sections(reply)
        return llava_cot_think(sections), sections["CONCLUSION"]


class OpenVLThinker(ChatAdapter):
    name = "openvlthinker"
    description = ("ydeng9/OpenVLThinker-sft-iter3 (LLaMA-Factory sharegpt): {messages, images}; "
                   "<think>/<answer> replies; no id column (row index)")
    id_columns = ("id",)
    check_image_count = True


class WeMath2SFT(ChatAdapter):
    name = "wemath2_sft"
    description = ("We-Math/We-Math2.0-SFT mathbook_sft.jsonl (+ image files): messages/images "
                   "or question/answer rows")
    id_columns = ("id", "idx", "question_id")
    answer_columns = ("answer",)


class MMR1SFT(ChatAdapter):
    name = "mmr1"
    description = ("MMR1/MMR1-SFT sft.json (JSON array of {conversations, images?, answer?}) or "
                   "the SFT-874K mmr1 config")
    id_columns = ("id", "idx")
    image_columns = ("images", "image", "image_path", "image_paths")
    answer_columns = ("answer", "gt_answer", "short_answer", "ground_truth")


# The configs of OpenMMReasoner-SFT-874K, recognised in folder names for ids and meta.
SFT_874K_CONFIGS = ("llava_cot", "mmr1", "m1_sft", "OpenVLThinker-sft-iter3", "WeMath")


class OmrSFT(ChatAdapter):
    name = "omr_sft"
    description = ("OpenMMReasoner/OpenMMReasoner-SFT-874K: {id, messages} with image_url "
                   "parts (paths under --image-root); ids get #k for repeated rollouts")

    def source_id(self, row: dict, index: int, ctx: ReadContext) -> str:
        base = row.get("id")
        base = str(base) if base not in (None, "") else ctx.row_id(index)
        config = ctx.state.get("config")
        if config is None:
            parts = Path(ctx.path).parts
            config = next((p for p in reversed(parts[:-1]) if p in SFT_874K_CONFIGS), "")
            ctx.state["config"] = config
        seen = ctx.state.get("seen")
        if seen is None:
            # The released set is saved in several files and a question's rollouts (up to 8
            # consecutive rows) may straddle two of them: count on from the rows of the
            # same id in the files read before this one, so `#k` never repeats.
            seen = ctx.state["seen"] = Counter(
                str(value) for sibling in earlier_siblings(ctx.path)
                for (value,) in column_values(sibling, ("id",)) if value not in (None, ""))
        k = seen.get(base, 0)
        seen[base] = k + 1
        # One question has up to 8 accepted rollouts under the same id.
        return f"{config}/{base}#{k}" if config else f"{base}#{k}"

    def convert(self, row: dict, index: int, ctx: ReadContext) -> Iterator[dict]:
        for record in super().convert(row, index, ctx):
            if ctx.state.get("config") and "reason" not in record:
                update_meta(record, **{"omr_sft.config": ctx.state["config"]})
            yield record
