"""Shared builders for the verify tests."""


def tagged(answer: str) -> str:
    return f"<think>Working it out.</think><answer>{answer}</answer>"
