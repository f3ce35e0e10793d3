"""Peak memory of the served app under two floods: a 45 MB POST /users, and 24 parallel bad
sign-ins. Prints one JSON object.

Runs `uvicorn app.main:create_app` from `--repo` (default: this checkout; point it at an older
worktree to compare) on loopback with a temporary SQLite database, and reads the server
process's peak resident memory (VmHWM) from /proc before and after each flood. Each flood gets
a fresh server, so one does not inflate the other.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

MB = 1 << 20


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _status_kib(pid: int, field: str) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else 0


class Server:
    def __init__(self, repo: Path, workdir: Path) -> None:
        self.port = _free_port()
        db = workdir / f"bench-{self.port}.db"
        self.env = {
            **os.environ,
            "PYTHONPATH": str(repo),
            "GG_ENV": "development",
            "GG_DATABASE_URL": f"sqlite:///{db}",
            "GG_SCHEDULER_ENABLED": "false",
            "GG_LOG_LEVEL": "WARNING",
        }
        migrate = (
            "from app.db.migrate import upgrade; import os; upgrade(os.environ['GG_DATABASE_URL'])"
        )
        subprocess.run([sys.executable, "-c", migrate], env=self.env, cwd=workdir, check=True)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "app.main:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
            ],
            env=self.env,
            cwd=workdir,
        )
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def memory(self) -> dict[str, float]:
        pid = self.process.pid
        return {
            "rss_mb": round(_status_kib(pid, "VmRSS") / 1024, 1),
            "peak_rss_mb": round(_status_kib(pid, "VmHWM") / 1024, 1),
        }

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


def big_body(server: Server) -> dict[str, Any]:
    before = server.memory()
    body = b'{"email": "big@example.org", "timezone": "UTC", "x": "' + b"a" * (45 * MB) + b'"}'
    started = time.monotonic()
    try:
        status = httpx.post(
            f"{server.base}/users",
            content=body,
            headers={"Content-Type": "application/json"},
            timeout=120,
        ).status_code
    except httpx.HTTPError as error:  # a server that answers 413 early may close mid-upload
        status = type(error).__name__
    return {
        "status": status,
        "seconds": round(time.monotonic() - started, 2),
        "before": before,
        "after": server.memory(),
    }


def bad_sign_ins(server: Server, parallel: int) -> dict[str, Any]:
    before = server.memory()
    statuses: list[int] = []

    def one(index: int) -> None:
        with httpx.Client(base_url=server.base, timeout=120) as client:
            page = client.get("/")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            reply = client.post(
                "/signin",
                data={
                    "email": f"nobody{index}@example.org",
                    "password": "wrong password " * 4,
                    "csrf_token": token.group(1) if token else "",
                },
            )
            statuses.append(reply.status_code)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(parallel)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "statuses": sorted(statuses),
        "seconds": round(time.monotonic() - started, 2),
        "before": before,
        "after": server.memory(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--parallel", type=int, default=24)
    args = parser.parse_args()
    result: dict[str, Any] = {"repo": str(args.repo)}
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(args.repo.resolve(), Path(tmp))
        try:
            result["post_users_45mb"] = big_body(server)
        finally:
            server.stop()
        server = Server(args.repo.resolve(), Path(tmp))
        try:
            result[f"bad_sign_ins_{args.parallel}_parallel"] = bad_sign_ins(server, args.parallel)
        finally:
            server.stop()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
