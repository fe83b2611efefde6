"""Shared builders for the distill tests."""

from omr_data.records import make_record


def make_records(count: int, tag: str = "q") -> list[dict]:
    out = []
    for i in range(count):
        if i % 3 == 0:
            out.append(make_record(source="t", source_id=f"{tag}{i}", question=f"[{tag}] Pick {i}.",
                                   choices=["red", "green", "blue"], answer="B",
                                   answer_type="choice"))
        else:
            out.append(make_record(source="t", source_id=f"{tag}{i}",
                                   question=f"[{tag}] What is {i} + 1?", answer=str(i + 1),
                                   answer_type="number"))
    return out


def config(srv, **kw):
    base = {"teacher": "simulated", "base_urls": [srv.base_url], "n": 2, "concurrency": 8,
            "max_tokens": 4096, "progress": False, "request_timeout_s": 2.0}
    base.update(kw)
    return base
