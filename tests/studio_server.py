"""A real `reelwright serve` process on a free 127.0.0.1 port, for tests that speak to it over sockets."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    def __init__(self, home: Path, *, port: int | None = None, args: list[str] | None = None,
                 env: dict[str, str] | None = None):
        self.home = Path(home)
        self.port = port or free_port()
        self.args = args or []
        self.env = env or {}
        self.proc: subprocess.Popen | None = None
        self.log = self.home / f"server-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> "ServerProcess":
        env = {**os.environ, "REELWRIGHT_HOME": str(self.home), **self.env}
        self.home.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "reelwright", "serve", "--port", str(self.port),
                                          *self.args], env=env, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        headers = {"Authorization": f"Bearer {self.env['REELWRIGHT_TOKEN']}"} if "REELWRIGHT_TOKEN" in self.env else {}
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/api/health", headers=headers, timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not start: {self.log.read_text()[-2000:]}")

    def submit(self, **body) -> dict:
        """POST /api/runs (360p unless the body says otherwise); the accepted job."""
        r = httpx.post(self.url + "/api/runs", json={"resolution": "360p", **body}, timeout=30)
        assert r.status_code == 202, r.text
        return r.json()

    def job(self, job_id: str) -> dict:
        return httpx.get(f"{self.url}/api/runs/{job_id}", timeout=30).json()

    def kill(self) -> None:
        """Kill -9: no shutdown handler runs, as when a machine loses power."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def server(tmp_path):
    srv = ServerProcess(Path(os.environ["REELWRIGHT_HOME"])).start()
    yield srv
    srv.stop()


def wait_for(predicate, timeout: float = 120, interval: float = 0.05):
    """Poll until `predicate()` is truthy; return its value (an event to wait for, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def openai_client(srv: ServerProcess, api_key: str = "local"):
    from openai import OpenAI

    return OpenAI(base_url=srv.url + "/v1", api_key=api_key, max_retries=0)


def quiet_sora_warnings() -> None:
    """openai 3.x warns that Sora is shut down on every videos call; reelwright is not Sora."""
    warnings.filterwarnings("ignore", category=DeprecationWarning, message=".*Sora.*")
