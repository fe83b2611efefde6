"""The one prompt renderer: what the teacher sees is what a trainer reads.

Distill sends, publish writes (SFT `messages`, RL `prompt`) and `train_minimal` checks the
same two pieces:

- the **instruction**, a system turn asking for `<think>…</think><answer>…</answer>`
  (`DEFAULT_INSTRUCTION` unless a config gives another; '' means no system turn), and
- the **user text**: the question, then the options as `A. text` lines under `Options:`
  when the record has choices (unless the question already lists every one of them that
  way), so a multiple-choice prompt always shows its options.

Conversational turns follow TRL (and the released OpenMMReasoner-SFT-874K rows): every
turn's `content` is a list of `{"type": ...}` items; a user turn holds one
`{"type": "image"}` per image, then the text.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from omr_data.records import option_letters

DEFAULT_INSTRUCTION = (
    "You are an expert at solving problems that may come with images. Think step by step "
    "and write your complete reasoning inside <think> </think> tags, then write only the "
    "final answer inside <answer> </answer> tags: <think>reasoning</think>"
    "<answer>final answer</answer>. For a multiple-choice question the final answer is the "
    "letter of the correct option; for a numerical answer give the number (with units only "
    "when the question asks for them)."
)
OPTIONS_HEADER = "Options:"


def instruction_sha256(instruction: str | None) -> str:
    """sha256 of the instruction's UTF-8 text ('' when none is sent): what cards record."""
    return hashlib.sha256((instruction or "").encode("utf-8")).hexdigest()


def resolve_instruction(instruction: str | None) -> str:
    """None means the default; '' means no system turn."""
    return DEFAULT_INSTRUCTION if instruction is None else instruction


def options_block(choices: Sequence[str]) -> str:
    lines = [f"{letter}. {str(choice).strip()}"
             for letter, choice in zip(option_letters(len(choices)), choices)]
    return "\n".join([OPTIONS_HEADER, *lines])


def shows_options(question: str, choices: Sequence[str]) -> bool:
    """Does the question already list every option as `X. text` (or `(X) text`, `X: text`)?"""
    for letter, choice in zip(option_letters(len(choices)), choices):
        pattern = (rf"(?:^|\s)\(?{letter}[.):、]\s*{re.escape(str(choice).strip())}"
                   rf"(?=\s|$|[;,.])")
        if not re.search(pattern, question):
            return False
    return True


def user_text(question: str, choices: Sequence[str] | None) -> str:
    """The user turn's text: the question, then its options as `A. text` lines."""
    question = (question or "").strip()
    choices = list(choices or [])
    if choices and not shows_options(question, choices):
        question = f"{question}\n\n{options_block(choices)}" if question else \
            options_block(choices)
    return question


def record_user_text(record: Mapping[str, Any]) -> str:
    return user_text(record.get("question") or "", record.get("choices"))


def system_turn(instruction: str) -> dict:
    return {"role": "system", "content": [{"type": "text", "text": instruction}]}


def user_turn(text: str, n_images: int) -> dict:
    content: list[dict] = [{"type": "image", "text": None} for _ in range(n_images)]
    content.append({"type": "text", "text": text})
    return {"role": "user", "content": content}


def prompt_turns(record: Mapping[str, Any], instruction: str | None, n_images: int
                 ) -> list[dict]:
    """[system turn (unless the instruction is ''), user turn]: the published prompt."""
    instruction = resolve_instruction(instruction)
    turns = [system_turn(instruction)] if instruction else []
    turns.append(user_turn(record_user_text(record), n_images))
    return turns
