"""The one OpenAI-compatible client, shared by distill (teacher) and verify (judge).

- `client`: `EndpointPool`: several endpoints behind one concurrency cap, retries with
  backoff and `Retry-After`, per-request deadlines, bounded replies, masked URLs.
- `limits`: requests/tokens per minute, in one process (`RateLimiter`) or over a Ray run
  (`Budget` in one actor, `RayLimiter` its proxy).
- `journal`: the SQLite request journal: answers keyed by request, durable as they land.
- `errors`: what the client raises (`LLMError`, `RequestFailed`, `NUnsupported`).

Dependencies point one way: `distill` and `verify` import this package; it imports
neither (nor any stage), and inside it `client` → `limits` → `errors`.
"""
