"""A tiny HTTP server that answers /chat/completions with whatever a test asks for
(empty choices, non-JSON, a huge body), counting requests; fault injection for clients."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeOpenAI:
    """`reply(body) -> (status, bytes, with_length)`; `requests` counts POSTs."""

    def __init__(self, reply):
        self.reply = reply
        self.requests = 0
        self.bodies: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                outer.requests += 1
                outer.bodies.append(body)
                status, data, with_length = outer.reply(body)
                self.send_response(status)
                self.send_header("content-type", "application/json")
                if with_length:
                    self.send_header("content-length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass   # the client stopped reading, as it should for a huge reply

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def completion(text: str = "<think>t</think><answer>1</answer>", choices: int = 1) -> bytes:
    return json.dumps({"id": "x", "object": "chat.completion", "model": "fake",
                       "choices": [{"index": i, "finish_reason": "stop",
                                    "message": {"role": "assistant", "content": text}}
                                   for i in range(choices)],
                       "usage": {"prompt_tokens": 5, "completion_tokens": 3}}).encode()


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
