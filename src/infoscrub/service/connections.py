"""The connection rules the ASGI app cannot see, in the HTTP protocol that uvicorn runs: a
deadline for a request's headers, and a lingering close.

**The header deadline.**

uvicorn times out an idle connection only after a response (``timeout_keep_alive``): a
client that connects and sends nothing, or stops half way through its headers, holds its
connection (a socket, a protocol object, buffers) for ever, and enough of them exhaust the
server. An ASGI middleware cannot help, as the app sees a request only once its headers
are complete, so the guard sits in the protocol: from the moment a connection waits for a
request (when it opens, and after each response), the whole header block must arrive
within ``header_timeout_s``. A connection that sent nothing is closed; one that stopped
inside its headers gets a 408 and is closed. Once the headers are complete, the body is
the app's to time (``ServiceLimits.body_idle_timeout_s`` and ``body_deadline_s``).

**The lingering close.** A refusal that closes the connection before the client has sent
its whole body (413 for an upload over the limit, 408) would be lost: closing a socket
with unread bytes in it makes the kernel answer with a reset, and a reset can arrive before
the client has read the reply, which it then never sees (a browser shows "connection reset"
instead of "over the limit"). So a close first sends what is written and a FIN, then reads
and drops what the client still sends, for at most ``LINGER_S`` seconds and
``LINGER_BYTES`` bytes, and closes when the client has closed its side (what Apache and
nginx call a lingering close).
"""

from __future__ import annotations

import asyncio
import json

HEADER_TIMEOUT_S = 10.0
LINGER_S = 2.0  # a closing connection drops what the client still sends for at most this long
LINGER_BYTES = 4 * 2**20  # ... and at most this much

_BODY = json.dumps({"error": "the request headers took too long; the connection is closed"}).encode()
TIMEOUT_RESPONSE = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
                    b"connection: close\r\ncontent-length: " + str(len(_BODY)).encode() + b"\r\n\r\n" + _BODY)


class HeaderDeadline:
    """Mixed in before uvicorn's H11Protocol or HttpToolsProtocol (both keep the request in
    progress as ``self.cycle`` and call ``on_response_complete`` after each response)."""

    header_timeout_s: float = HEADER_TIMEOUT_S

    def connection_made(self, transport) -> None:
        self._header_timer: asyncio.TimerHandle | None = None
        self._partial_request = False  # bytes of a request arrived since we began waiting
        super().connection_made(transport)
        self._follow_request()

    def data_received(self, data: bytes) -> None:
        if not self._request_in_progress():
            self._partial_request = True
        super().data_received(data)
        self._follow_request()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow_request()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_timer()
        super().connection_lost(exc)

    def _request_in_progress(self) -> bool:
        """Headers complete, response not yet sent (or a pipelined request queued)."""
        return self.cycle is not None and not self.cycle.response_complete

    def _follow_request(self) -> None:
        """Stop the clock once a request's headers are in; start it when we wait for one."""
        if self._request_in_progress():
            self._stop_header_timer()
        elif self._header_timer is None and not self.transport.is_closing():
            self._partial_request = False
            self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _stop_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self._request_in_progress():
            return
        if self._partial_request:  # a client in the middle of a request is told why
            self.transport.write(TIMEOUT_RESPONSE)
        self.transport.close()


class LingeringTransport:
    """The protocol's transport, whose ``close`` half-closes and lingers (module docstring)."""

    def __init__(self, transport, loop) -> None:
        self._transport = transport
        self._loop = loop
        self.lingering = False
        self.dropped = 0

    def close(self) -> None:
        if self.lingering or self._transport.is_closing() or not self._transport.can_write_eof():
            self._transport.close()
            return
        self.lingering = True
        self._transport.write_eof()  # the reply goes out, then FIN; reading goes on
        self._loop.call_later(LINGER_S, self._transport.close)

    def drop(self, data: bytes) -> None:
        """What the client sends while the connection lingers: counted, not read."""
        self.dropped += len(data)
        if self.dropped > LINGER_BYTES:
            self._transport.close()

    def is_closing(self) -> bool:
        return self.lingering or self._transport.is_closing()

    def __getattr__(self, name: str):
        return getattr(self._transport, name)


class LingeringClose:
    """Mixed in before uvicorn's protocol: its transport closes by lingering."""

    def connection_made(self, transport) -> None:
        super().connection_made(LingeringTransport(transport, asyncio.get_running_loop()))

    def data_received(self, data: bytes) -> None:
        if self.transport.lingering:  # the request is answered; its rest is not parsed
            self.transport.drop(data)
            return
        super().data_received(data)

    def eof_received(self):
        if self.transport.lingering:  # the client has read the reply and closed its side
            self.transport.close()
            return False
        return super().eof_received()


def http_protocol(header_timeout_s: float = HEADER_TIMEOUT_S) -> type[asyncio.Protocol]:
    """uvicorn's HTTP/1.1 protocol (httptools when installed, else h11) with the header
    deadline and the lingering close; pass it as ``uvicorn.run(..., http=...)``."""
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    if not header_timeout_s > 0:
        raise ValueError(f"the header timeout must be above 0, not {header_timeout_s}")
    return type(f"HeaderDeadline{AutoHTTPProtocol.__name__}", (LingeringClose, HeaderDeadline, AutoHTTPProtocol),
                {"header_timeout_s": float(header_timeout_s)})
