"""A TCP proxy on loopback between a phone and its relay that counts the
bytes the phone sends and, once armed, cuts the next photo upload part way:
what a village's network does to a long upload."""

import socket
import threading


class CuttingProxy:
    def __init__(self, upstream_port):
        self.upstream = ("127.0.0.1", upstream_port)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.lock = threading.Lock()
        self.sent = 0          # bytes from the phone, forwarded
        self.cut_after = None  # cut the next PATCH after this many of its bytes
        self.cuts = 0
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def arm(self, cut_after):
        """Cuts the next upload request once it has forwarded `cut_after`
        bytes (headers included), and counts afresh."""
        with self.lock:
            self.cut_after = cut_after
            self.sent = 0

    def close(self):
        self.server.close()

    def _accept(self):
        while True:
            try:
                phone, _ = self.server.accept()
            except OSError:
                return
            relay = socket.create_connection(self.upstream)
            threading.Thread(target=self._up, args=(phone, relay), daemon=True).start()
            threading.Thread(target=self._down, args=(relay, phone), daemon=True).start()

    def _up(self, phone, relay):
        forwarded = 0  # bytes of the current PATCH on this connection
        patching = False
        try:
            while True:
                data = phone.recv(16384)
                if not data:
                    break
                if data.startswith(b"PATCH "):
                    patching, forwarded = True, 0
                elif data[:4] in (b"HEAD", b"GET ", b"POST"):
                    patching = False
                with self.lock:
                    limit = self.cut_after if patching else None
                    if limit is not None and forwarded + len(data) >= limit:
                        data = data[: limit - forwarded]
                        self.cut_after = None
                        self.cuts += 1
                        cut = True
                    else:
                        cut = False
                    self.sent += len(data)
                forwarded += len(data)
                relay.sendall(data)
                if cut:
                    break
        except OSError:
            pass
        for s in (phone, relay):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _down(self, relay, phone):
        try:
            while True:
                data = relay.recv(16384)
                if not data:
                    break
                phone.sendall(data)
        except OSError:
            pass
