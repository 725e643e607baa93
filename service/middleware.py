"""ASGI middleware: request ids, the upload-size limit before any body is read, access logs, latency metrics."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from workers.logs import request_id_var

from .metrics import REQUEST_SECONDS

__all__ = ["RequestContextMiddleware"]

log = logging.getLogger("docstn.api")
_GOOD_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class _BodyTooLargeError(Exception):
    pass


class RequestContextMiddleware:
    """Gives each request an id (``X-Request-ID``, taken from the request when well-formed), refuses bodies over
    the limit with 413 before reading them (by Content-Length, and while streaming when it is absent), logs one
    JSON line per request and observes its latency."""

    def __init__(self, app, *, limit_for_path):
        self.app = app
        self.limit_for_path = limit_for_path

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        rid = headers.get("x-request-id", "")
        rid = rid if _GOOD_ID.match(rid) else uuid.uuid4().hex
        token = request_id_var.set(rid)
        start = time.perf_counter()
        status = {"code": 500, "started": False}
        limit = self.limit_for_path(scope["path"])

        over = {"flag": False, "replaced": False}

        async def send_wrapped(message):
            if over["flag"] and not status["started"]:
                # the app turned the interrupted body into some other error: answer 413 instead
                over["replaced"] = True
                status["started"] = True
                return await _send_413(send_raw, limit)
            if over["replaced"]:
                return
            if message["type"] == "http.response.start":
                status["code"], status["started"] = message["status"], True
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        async def send_raw(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        received = 0

        async def receive_limited():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over["flag"] = True
                    raise _BodyTooLargeError()
            return message

        try:
            length = headers.get("content-length", "")
            if length.isdigit() and int(length) > limit:
                await _send_413(send_raw, limit)
            else:
                try:
                    await self.app(scope, receive_limited, send_wrapped)
                except _BodyTooLargeError:
                    if status["started"]:
                        raise
                    await _send_413(send_raw, limit)
        finally:
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            REQUEST_SECONDS.labels(scope["method"], path, str(status["code"])).observe(elapsed)
            log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "route": path,
                    "status": status["code"],
                    "duration_ms": round(elapsed * 1000, 2),
                    "client": _client_of(scope),
                },
            )
            request_id_var.reset(token)


def _client_of(scope) -> str:
    state = scope.get("state") or {}
    return state.get("client") or (scope["client"][0] if scope.get("client") else "-")


async def _send_413(send, limit: int) -> None:
    body = json.dumps(
        {"error": {"code": "payload_too_large", "message": f"request body larger than {limit} bytes"}}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                        (b"connection", b"close")],
        }
    )  # fmt: skip
    await send({"type": "http.response.body", "body": body})
