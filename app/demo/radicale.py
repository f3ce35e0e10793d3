"""A Radicale CalDAV server run as a child process on loopback (the demo calendar; tests).

Radicale keeps its data in `folder` (collections, the htpasswd file, a pid file). The child is
tied to this process: it gets SIGTERM when we exit (Linux), and a leftover child of an earlier
run that was killed is stopped before a new one starts on the same folder.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

__all__ = ["RadicaleProcess", "RadicaleStartError"]


class RadicaleStartError(RuntimeError):
    """Radicale did not come up (port taken, not installed, crashed)."""


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class RadicaleProcess:
    """Radicale with htpasswd (plain) authentication on 127.0.0.1:`port`."""

    def __init__(
        self,
        folder: Path,
        port: int,
        *,
        host: str = "127.0.0.1",
        tls: tuple[Path, Path] | None = None,
        auth_delay: float = 1.0,
    ) -> None:
        self.folder = folder
        self.host, self.port = host, port
        self.tls = tls
        self.auth_delay = auth_delay
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host}:{self.port}/"

    @property
    def users_file(self) -> Path:
        return self.folder / "users"

    @property
    def collections(self) -> Path:
        return self.folder / "collections"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def add_user(self, username: str, password: str | None = None) -> str:
        """Add (or replace) a login; returns its password. Radicale re-reads the file."""
        if not username or any(c in username for c in ":\n/\\") or len(username) > 100:
            raise ValueError("user names are 1-100 characters without ':', '/' or newlines")
        password = password or secrets.token_urlsafe(12)
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            lines = []
            if self.users_file.exists():
                lines = [
                    line
                    for line in self.users_file.read_text().splitlines()
                    if line and line.split(":", 1)[0] != username
                ]
            lines.append(f"{username}:{password}")
            self.users_file.write_text("\n".join(lines) + "\n")
            self.users_file.chmod(0o600)
        return password

    def password_of(self, username: str) -> str | None:
        if not self.users_file.exists():
            return None
        for line in self.users_file.read_text().splitlines():
            name, _, password = line.partition(":")
            if name == username:
                return password
        return None

    def start(self, timeout: float = 20.0) -> None:
        """Start the server and wait until it answers; RadicaleStartError otherwise."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.users_file.touch(mode=0o600, exist_ok=True)
        self._stop_leftover()
        command = [
            sys.executable,
            "-m",
            "radicale",
            "--config",
            "",
            "--server-hosts",
            f"{self.host}:{self.port}",
            "--storage-filesystem-folder",
            str(self.collections),
            "--auth-type",
            "htpasswd",
            "--auth-htpasswd-filename",
            str(self.users_file),
            "--auth-htpasswd-encryption",
            "plain",
            "--auth-delay",
            str(self.auth_delay),
            "--rights-type",
            "owner_only",
            "--logging-level",
            "error",
        ]
        if self.tls is not None:
            certificate, key = self.tls
            command += ["--server-ssl", "--certificate", str(certificate), "--key", str(key)]
        log_file = (self.folder / "radicale.log").open("ab")
        try:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
                preexec_fn=_die_with_parent,
            )
        finally:
            log_file.close()
        (self.folder / "radicale.pid").write_text(str(self._process.pid))
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self._process.poll() is not None:
                self._process = None
                raise RadicaleStartError(
                    f"Radicale exited at start (port {self.port} taken?); see "
                    f"{self.folder / 'radicale.log'}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise RadicaleStartError(f"Radicale did not answer within {timeout:g} s")
            time.sleep(0.05)

    def stop(self) -> None:
        """Terminate the server (and wait for it)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        with contextlib.suppress(FileNotFoundError):
            (self.folder / "radicale.pid").unlink()

    def __enter__(self) -> RadicaleProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _answers(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection((self.host, self.port), 0.2):
            return True
        return False

    def _stop_leftover(self) -> None:
        """Stop a Radicale that an earlier, killed run of ours left on this folder."""
        pid_file = self.folder / "radicale.pid"
        try:
            pid = int(pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (FileNotFoundError, ValueError, OSError):
            return
        if b"radicale" in cmdline and str(self.collections).encode() in cmdline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
                for _ in range(100):
                    os.kill(pid, 0)
                    time.sleep(0.05)
        with contextlib.suppress(FileNotFoundError):
            pid_file.unlink()
