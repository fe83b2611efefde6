"""What the client raises; its own module so `client` and `limits` both import it and
neither imports the other."""

from __future__ import annotations


class LLMError(RuntimeError):
    """The run cannot go on (a bad API key, base URL or model, no endpoint reachable, a
    shared limiter gone, an engine that failed); the message says what to fix."""


class RequestFailed(Exception):
    """One request failed for good (its deadline or attempts ran out, or the server
    refused it); `retryable` tells whether a rerun may get an answer."""

    def __init__(self, reason: str, *, retryable: bool):
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


class NUnsupported(Exception):
    """The endpoint refused `n > 1`; send one request per sample instead."""


__all__ = ["LLMError", "NUnsupported", "RequestFailed"]
