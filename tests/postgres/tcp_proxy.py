"""A real TCP forwarder on 127.0.0.1 between the app and the PostgreSQL server, that a test
can cut (every connection reset, new ones refused), restore on the same port, or make lose the
answer to the next COMMIT (forwarded and committed by the server, the reply never delivered:
the client cannot know whether its transaction landed)."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time

_COMMIT = b"Q" + struct.pack("!i", 4 + len(b"COMMIT\x00")) + b"COMMIT\x00"


def _reset(sock: socket.socket) -> None:
    """Close abruptly (RST), as a dropped network link looks to both ends."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    # shutdown first: a pump thread blocked in recv() keeps a merely closed socket's
    # connection alive (Linux), and its peer would wait for an answer forever.
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


class TcpProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._lose_commit = False
        self._muted: set[socket.socket] = set()
        self._reply_dropped = threading.Event()
        self.commits_lost = 0
        self.connections = 0

    # control ----------------------------------------------------------------------------------
    def start(self) -> TcpProxy:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True,
                         name="tcp-proxy-accept").start()
        return self

    def cut(self) -> None:
        """The server becomes unreachable: open connections reset, new ones refused."""
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, set()
        if listener is not None:
            # shutdown first: a thread blocked in accept() keeps a merely closed socket
            # listening (Linux).
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for s in sockets:
            _reset(s)

    def restore(self) -> None:
        """Reachable again, on the same port."""
        error: OSError | None = None
        for _ in range(50):
            try:
                self.start()
                return
            except OSError as exc:  # the old socket may linger a moment
                error = exc
                time.sleep(0.05)
        raise RuntimeError(f"cannot listen on 127.0.0.1:{self.port} again: {error}")

    def lose_next_commit_reply(self) -> None:
        self._lose_commit = True

    def close(self) -> None:
        self.cut()

    def url(self, url: str) -> str:
        """``url`` (a SQLAlchemy URL string) pointed at this proxy."""
        import sqlalchemy as sa

        return (sa.make_url(url).set(host="127.0.0.1", port=self.port)
                .render_as_string(hide_password=False))

    # forwarding -------------------------------------------------------------------------------
    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                if self._listener is not listener:  # cut meanwhile
                    _reset(client)
                    _reset(server)
                    continue
                self._sockets |= {client, server}
                self.connections += 1
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False),
                             daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, to_server: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if to_server and self._lose_commit and _COMMIT in data:
                    self._lose_commit = False
                    self._swallow_reply(src, dst, data)
                    return
                if not to_server and src in self._muted:
                    self._reply_dropped.set()  # the server answered the COMMIT: it landed
                    continue
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._sockets -= {src, dst}
            _reset(src)
            _reset(dst)

    def _swallow_reply(self, client: socket.socket, server: socket.socket, data: bytes) -> None:
        """Send the COMMIT on, wait for the server's answer (it committed), drop the answer and
        both connections."""
        self._reply_dropped.clear()
        self._muted.add(server)  # from now on the server's bytes never reach the client
        with contextlib.suppress(OSError):
            server.sendall(data)
        landed = self._reply_dropped.wait(5)
        self._muted.discard(server)
        with self._lock:
            self._sockets -= {client, server}
        if landed:
            self.commits_lost += 1
        _reset(client)
        _reset(server)
