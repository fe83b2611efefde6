"""`compute_score` and `score_batch`: extraction, rules, math-verify, then the judge.

Order of deciders for one answer (each verdict records which one decided, `decided_by`):

0. ``truncated``      the response was cut off (`finish_reason` "length" or "max_tokens")
                      → acc 0
1. ``no_answer``      nothing committed outside `<think>` (see `extract.committed_answer`
                      for the chain, strict by default) → acc 0
2. ``commitment``     several different boxed answers, alternatives, hedges, denials of
                      the gold, text addressed to the grader (`commit.py`) → acc 0
   ``structure``      a set for a point, a different variable → acc 0
3. ``rule:*``         exact match, choice letters, numbers, yes/no, text (`rules.py`)
3. ``guard``          an answer sympy must not see (tower, deep nesting) → acc 0, counted
                      with timeouts
4. ``math_verify``    symbolic comparison in worker processes; ``timeout`` when it ran out
5. ``judge``          only when the rules could not decide and a judge is given;
                      ``judge_unparsable`` when its reply was neither 0 nor 1

`score = (1 - format_weight) * acc + format_weight * format`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import Any

from omr_data.verify.algebra import fast_equivalence, fast_numbers
from omr_data.verify.commit import addresses_grader, check_commitment
from omr_data.verify.extract import all_boxed, committed_answer, format_score
from omr_data.verify.judge import Judge, JudgeRequest
from omr_data.verify.mathverify import MathVerifyPool, default_pool, too_complex
from omr_data.verify.normalize import MAX_RULE_LEN, align_math, clean, compact, strip_answer_prefix
from omr_data.verify.rules import (
    Decision,
    Num,
    decide,
    gold_letters,
    infer_answer_type,
    numbers_match,
    option_text,
    parse_value,
    parse_yes_no,
    strip_option_label,
    valid_letters,
)
from omr_data.verify.structure import answer_span, structure_problem

DEFAULT_FORMAT_WEIGHT = 0.1
# generators' words for "stopped at the token limit": OpenAI/vLLM/TGI, and Anthropic's
TRUNCATED = frozenset({"length", "max_tokens"})
DEFAULT_TIMEOUT_S = 2.0
MAX_JUDGE_CANDIDATE = 500   # longer "answers" are not final answers; never sent to a judge

_UNIT_WORDS = (
    "cm", "mm", "km", "m", "units", "unit", "square units", "sq units", "cubic units", "meters",
    "metres", "meter", "inches", "inch", "feet", "ft", "degrees", "degree", "cm^2", "m^2",
    "cm^3", "m^3", "km^2", "mm^2", "units^2", "dollars", "seconds", "minutes", "hours", "kg",
    "g", "s", "L", "mL", "ml",
)
_TRAILING_UNIT = re.compile(
    r"(?:\s|\\ )*(?:" + "|".join(re.escape(u) for u in sorted(_UNIT_WORDS, key=len, reverse=True))
    + r")\s*$")


def compute_score(
    response: str | None,
    ground_truth: str,
    *,
    answer_type: str | None = None,
    choices: list[str] | None = None,
    judge: Any = None,
    format_weight: float = DEFAULT_FORMAT_WEIGHT,
    question: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    finish_reason: str | None = None,
    strict: bool = True,
) -> dict:
    """Score one response against the gold answer.

    Returns ``{"score", "acc", "format", "pred", "decided_by", "detail"}``; see the module
    doc for the deciders. `finish_reason` is the generator's (OpenAI/vLLM): ``"length"``
    (cut off at max_tokens) earns no accuracy credit. `strict=True` (the default, for RL
    rewards) credits only an `<answer>` tag or a `\\boxed{}` outside `<think>`;
    `strict=False` (SFT filtering) also reads an untagged trace's "final answer is …",
    last line or last number (`extract.committed_answer`). `judge` is a
    `omr_data.verify.judge.Judge`, anything with
    `judge_many(requests)`, or a preset name (then the endpoint comes from the `openai`
    client's own settings, `OPENAI_BASE_URL`); it is asked only when the rules cannot decide.
    `question` is sent to the judge with the gold and the extracted answer.
    """
    item = {"response": response, "answer": ground_truth, "answer_type": answer_type,
            "choices": choices, "question": question, "finish_reason": finish_reason}
    return score_batch([item], workers=1, judge=judge, format_weight=format_weight,
                       timeout_s=timeout_s, strict=strict)[0]


def score_batch(
    items: Iterable[Mapping[str, Any]],
    *,
    workers: int = 2,
    judge: Any = None,
    format_weight: float = DEFAULT_FORMAT_WEIGHT,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    pool: MathVerifyPool | None = None,
    strict: bool = True,
) -> list[dict]:
    """Score many responses: rules in this process, math-verify on `workers` processes.

    Each item is a mapping with `response` and `answer` (or `ground_truth`), and optionally
    `answer_type`, `choices`, `question`, `finish_reason`. Results come back in order.
    `strict` as in `compute_score`.
    """
    if not 0.0 <= format_weight <= 1.0:
        raise ValueError(f"format_weight must be within [0, 1], got {format_weight}")
    items = list(items)
    if isinstance(judge, str):
        judge = _preset_judge(judge)
    states, warmed = [], False
    for item in items:
        states.append(_start(item, strict))
        if not warmed and states[-1]["decision"].next in ("math_verify", "math_verify_choices"):
            # the first item that needs sympy starts the workers; they import while the
            # rules decide the rest of the batch
            pool = pool or default_pool(workers, timeout_s)
            pool.warm(min(workers, len(items)))
            warmed = True

    symbolic = [i for i, s in enumerate(states) if s["decision"].next == "math_verify"]
    if symbolic:
        pool = pool or default_pool(workers, timeout_s)
        pairs = [(states[i]["gold_math"], states[i]["pred_math"]) for i in symbolic]
        for i, result in zip(symbolic, pool.compare_many(pairs)):
            states[i]["decision"] = _from_math_verify(states[i], result, judge is not None)

    by_option = [i for i, s in enumerate(states) if s["decision"].next == "math_verify_choices"]
    if by_option:
        pool = pool or default_pool(workers, timeout_s)
        _decide_by_option_values([states[i] for i in by_option], pool, judge is not None)

    asking = [i for i, s in enumerate(states) if s["decision"].next == "judge"
              and len(s["pred"]) <= MAX_JUDGE_CANDIDATE]
    if asking and judge is not None:
        requests = [_judge_request(items[i], states[i]) for i in asking]
        for i, verdict in zip(asking, judge.judge_many(requests)):
            states[i]["decision"] = _from_judge(verdict)

    return [_result(s, format_weight) for s in states]


# --------------------------------------------------------------------------------------


_JUDGES: dict[str, Any] = {}


def rule_verdicts(responses: list[str], record: Mapping[str, Any]) -> list[bool]:
    """Does each response's answer equal the record's gold answer by the rules and
    math-verify (no judge)? Distill's adaptive n counts verified traces with it (its default
    `adaptive_check`); the verify stage still decides what is kept."""
    items = [{"response": r, "answer": record.get("answer"),
              "answer_type": record.get("answer_type"), "choices": record.get("choices"),
              "question": record.get("question")} for r in responses]
    return [res["acc"] >= 1.0 for res in score_batch(items, workers=1)]


def _preset_judge(name: str):
    """`judge="qwen3-235b-judge"`: that preset on the endpoint of `OPENAI_BASE_URL`."""
    if name not in _JUDGES:
        _JUDGES[name] = Judge(name)
    return _JUDGES[name]


def gold_form(gold: str) -> str:
    """The gold answer to compare with: its boxed part(s) when it has any (several boxed
    parts become one list, `\\boxed{1}\\boxed{2}` → `1, 2`), else the gold as written."""
    if "\\boxed" not in gold and "\\fbox" not in gold:
        return gold
    parts = all_boxed(gold)
    return ", ".join(parts) if parts else gold


def _start(item: Mapping[str, Any], strict: bool = True) -> dict:
    gold = item.get("answer", item.get("ground_truth"))
    if gold is None or not str(gold).strip():
        raise ValueError("each item needs a non-empty 'answer' (the gold answer)")
    gold = gold_form(str(gold))
    choices = item.get("choices") or None
    answer_type = item.get("answer_type") or infer_answer_type(gold, choices)
    response = item.get("response")
    state = {"gold": gold, "choices": choices, "answer_type": answer_type,
             "format": format_score(response), "pred": None}
    found = committed_answer(response, strict=strict, answer_type=answer_type)
    state["pred"] = found.pred
    state["decision"] = _committed(found, state, item.get("finish_reason"))
    return state


def _committed(found, state: dict, finish_reason: str | None) -> Decision:
    """The verdict on what the response commits to, or the rule/next step deciding it."""
    gold, answer_type, choices = state["gold"], state["answer_type"], state["choices"]
    if finish_reason in TRUNCATED:
        return Decision(0.0, "truncated",
                        f"the response was cut off (finish_reason={finish_reason})")
    if found.pred is None:
        return Decision(0.0, "no_answer", found.problem or "no final answer found")
    pred = found.pred
    if len(pred) > MAX_RULE_LEN or len(gold) > MAX_RULE_LEN:
        return Decision(0.0, "guard", f"answer longer than {MAX_RULE_LEN} characters")
    if len(found.boxes) > 1:
        if "," not in gold:
            return Decision(0.0, "commitment", "several different boxed answers")
        pred = ", ".join(found.boxes)      # a gold with several parts: compare as a list
    if addresses_grader(found.visible):
        return Decision(0.0, "commitment", "addresses the grader")
    commitment = check_commitment(pred, gold, answer_type, choices, same_value)
    if commitment.problem is None and found.boxed:
        # what the sentence around the box says about it: "at least \\boxed{13}"
        around = check_commitment(found.context, gold, answer_type, choices, same_value)
        if around.problem:
            commitment = around
    if commitment.problem:
        return Decision(0.0, "commitment", commitment.problem)
    pred = answer_span(commitment.text)
    state["pred"] = pred
    if not pred.strip():
        return Decision(0.0, "no_answer", "the answer states nothing once denials are cut")
    problem = structure_problem(pred, gold, answer_type)
    if problem:
        return Decision(0.0, "structure", problem)
    decision = decide(pred, gold, answer_type, choices)
    if decision.next == "math_verify":
        state["gold_math"], state["pred_math"] = align_math(math_form(gold), math_form(pred))
        why = too_complex(state["gold_math"]) or too_complex(state["pred_math"])
        if why:
            return Decision(0.0, "guard", f"answer too complex to compare ({why})")
        quick = fast_equivalence(state["gold_math"], state["pred_math"]) or \
            fast_numbers(state["gold_math"], state["pred_math"])
        if quick is not None:
            return Decision(float(quick[0]), "rule:algebra", quick[1])
    return decision


def same_value(a: str, b: str) -> bool:
    """Cheap equality for denial checks: numbers, option letters, yes/no, exact strings."""
    if compact(a) == compact(b):
        return True
    ca, cb = clean(a), clean(b)
    if len(ca) == 1 and len(cb) == 1 and ca.isalpha():
        return ca.upper() == cb.upper()
    ga, gb = parse_value(a), parse_value(b)
    if ga is not None and gb is not None:
        return numbers_match(gb, ga)
    ya, yb = parse_yes_no(a), parse_yes_no(b)
    return ya is not None and ya == yb


def math_form(s: str) -> str:
    """What math-verify sees: presentation stripped, "the answer is" and unit words dropped."""
    s = clean(strip_answer_prefix(clean(s)))
    stripped = _TRAILING_UNIT.sub("", s)
    return stripped if stripped.strip() else s


def _from_math_verify(state: dict, result: tuple, have_judge: bool) -> Decision:
    kind = result[0]
    if kind == "timeout":
        return Decision(0.0, "timeout", "math-verify ran out of time")
    if kind == "error":
        return Decision(None if have_judge else 0.0, "math_verify", result[1],
                        next="judge" if have_judge else None)
    if kind == "unparsed":
        return Decision(None if have_judge else 0.0, "math_verify",
                        "math-verify could not parse the answer",
                        next="judge" if have_judge else None)
    ok = _math_verify_equal((state["gold_math"], state["pred_math"]), result)
    return Decision(float(ok), "math_verify", "equivalent" if ok else "not equivalent")


def _decide_by_option_values(states: list[dict], pool: MathVerifyPool, have_judge: bool) -> None:
    """Which option's value the answer states (one math-verify comparison per option)."""
    pairs, owners = [], []
    for k, state in enumerate(states):
        pred = math_form(state["pred"])
        for j, option in enumerate(state["choices"]):
            gold_form, pred_form = align_math(math_form(strip_option_label(option)), pred)
            if too_complex(gold_form) or too_complex(pred_form):
                continue
            pairs.append((gold_form, pred_form))
            owners.append((k, j))
    hits: dict[int, list[int]] = {k: [] for k in range(len(states))}
    for (k, j), pair, result in zip(owners, pairs, pool.compare_many(pairs)):
        if result[0] == "ok" and _math_verify_equal(pair, result):
            hits[k].append(j)
    for k, state in enumerate(states):
        want = gold_letters(state["gold"], state["choices"])
        if len(hits[k]) == 1 and want is not None:
            got = valid_letters(state["choices"])[hits[k][0]]
            state["decision"] = Decision(float(frozenset(got) == want), "math_verify",
                                         f"pred states option {got}'s value")
        else:
            state["decision"] = Decision(None if have_judge else 0.0, "rule:choice",
                                         "no option letter found",
                                         next="judge" if have_judge else None)


def _math_verify_equal(pair: tuple[str, str], result: tuple) -> bool:
    """math-verify's verdict, except that two plain numbers compare by the number rules
    (exact for integers and rationals, rounding rules for decimals: `rules.py`)."""
    _, verified, gold_value, pred_value = result
    g = parse_value(pair[0]) or _result_num(gold_value)
    p = parse_value(pair[1]) or _result_num(pred_value)
    if g is None or p is None:
        return bool(verified)
    if (g.exact is None and p.dec is None) or (p.exact is None and g.dec is None):
        # one side known only as a float (a root, π) and the other not a rounded decimal:
        # sympy's symbolic verdict, never a float comparison (`\\sqrt{16}` = 4 exactly)
        return bool(verified) or (g.exact is None and p.exact is None and numbers_match(g, p))
    return numbers_match(g, p)


def _result_num(value) -> Num | None:
    """A worker's numeric value: (float, exact "p/q" or None), or a bare float."""
    if value is None:
        return None
    if isinstance(value, (tuple, list)):
        number, exact = value
        if exact is not None:
            q = Fraction(exact)
            return Num(float(q), exact=q, is_int=q.denominator == 1)
        return Num(float(number))
    return Num(float(value))


def _judge_request(item: Mapping[str, Any], state: dict):
    question = str(item.get("question") or "").strip()
    reference = state["gold"]
    choices = state["choices"]
    if choices:
        letters = valid_letters(choices)
        listing = "\n".join(f"{letters[i]}. {c}" for i, c in enumerate(choices))
        question = f"{question}\nOptions:\n{listing}" if question else f"Options:\n{listing}"
        text = option_text(reference.strip(), choices) if len(reference.strip()) == 1 else None
        if text is not None:
            reference = f"{reference.strip()}. {text}"
    return JudgeRequest(question=question, reference=reference,
                        candidate=state["pred"],
                        images=item.get("images") or None)


def _from_judge(verdict) -> Decision:
    if verdict.value is None:
        return Decision(0.0, "judge_unparsable", f"reply={verdict.reply[:80]!r}")
    return Decision(float(verdict.value), "judge", f"reply={verdict.reply[:20]!r}")


def _result(state: dict, format_weight: float) -> dict:
    decision: Decision = state["decision"]
    acc = decision.acc if decision.acc is not None else 0.0
    detail = decision.detail
    if decision.acc is None:
        detail = f"{detail}; no judge to ask" if detail else "no judge to ask"
    fmt = state["format"]
    return {
        "score": (1.0 - format_weight) * acc + format_weight * fmt,
        "acc": acc,
        "format": fmt,
        "pred": state["pred"],
        "decided_by": decision.by,
        "detail": detail,
    }
