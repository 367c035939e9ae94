"""deploy/ (issue 17, part 5): the worker's image, checked without a container engine.

Its COPY sources exist, they install (setuptools' build_py, as `pip install` does) into a tree
that holds every module and data file, and its ENTRYPOINT, run from that tree with the
Dockerfile's ENV and the compose file's environment, starts a worker against a fresh Temporal dev
server and a fresh PostgreSQL database, then stops cleanly on SIGTERM; the codec server's command,
likewise, answers /health.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from complaints.config import PROJECT_ROOT
from complaints.devserver import temporal_binary
from tests.conftest import _postgres_database
from tests.deploy.support import (
    DEPLOY,
    SITE_PACKAGES,
    Stage,
    dockerfile_env,
    dockerfile_stages,
    environment,
    host_port,
    services,
)

# --- (c) the Dockerfile ---------------------------------------------------------------------------


def copies(stage: Stage) -> list[tuple[list[str], str]]:
    """(sources, destination) of a stage's COPY instructions from the build context."""
    result = []
    for args in stage.args("COPY"):
        words = args.split()
        if any(w.startswith("--from") for w in words):
            continue
        result.append((words[:-1], words[-1]))
    return result


def test_dockerfile_shape() -> None:
    stages = dockerfile_stages()
    assert [s.image for s in stages] == ["python:3.11-slim", "python:3.11-slim"]
    assert "/python3.11/" in SITE_PACKAGES
    build, final = stages
    assert any(a.startswith("pip wheel") and a.endswith(" .") for a in build.args("RUN"))
    assert any(a.startswith("pip install") for a in final.args("RUN"))
    (user,) = final.args("USER")
    assert user not in {"root", "0"}
    assert re.search(rf"useradd [^&]*\b{user}\b", " ".join(final.args("RUN")))
    env = dockerfile_env(final)
    for key in (
        "COMPLAINTS_TEMPORAL_ADDRESS",
        "COMPLAINTS_DATABASE_URL",
        "COMPLAINTS_TEMPORAL_TLS",
        "COMPLAINTS_TEMPORAL_TLS_CA",
        "COMPLAINTS_TEMPORAL_TLS_CERT",
        "COMPLAINTS_TEMPORAL_TLS_KEY",
        "COMPLAINTS_TEMPORAL_API_KEY",
    ):
        assert key in env
    # Encryption fails closed: a key ring file is named, so a missing one stops the worker.
    assert env["COMPLAINTS_CODEC_KEYS_FILE"].startswith("/")
    for sources, _ in [*copies(build), *copies(final)]:
        for source in sources:
            assert (PROJECT_ROOT / source).exists(), f"COPY {source}: not in the repository"
    # The build context's ignore file keeps the virtualenv, the data and the secrets out.
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").split()
    assert {".venv", ".data", ".git", "deploy/.env"} <= set(ignored)


def entrypoint() -> list[str]:
    (args,) = dockerfile_stages()[-1].args("ENTRYPOINT")
    command: list[str] = json.loads(args)
    return command


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `pip install` of the build stage's COPY sources puts in site-packages (setuptools build_py)."""
    root = tmp_path_factory.mktemp("image")
    source = root / "src"
    source.mkdir()
    for sources, destination in copies(dockerfile_stages()[0]):
        for name in sources:
            target = source / destination / Path(name).name if destination.endswith("/") else source / destination
            if (PROJECT_ROOT / name).is_dir():
                shutil.copytree(PROJECT_ROOT / name, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(PROJECT_ROOT / name, target)
    lib = root / "site-packages"
    subprocess.run(
        [sys.executable, "-c", "import setuptools; setuptools.setup()", "-q", "build_py", "--build-lib", str(lib)],
        cwd=source,
        check=True,
        capture_output=True,
    )
    # What the final stage copies in beside the installed packages (the policies).
    for sources, destination in copies(dockerfile_stages()[-1]):
        if destination.startswith(SITE_PACKAGES + "/"):
            (name,) = sources
            shutil.copytree(PROJECT_ROOT / name, lib / destination[len(SITE_PACKAGES) + 1 :])
    return lib


def test_the_install_holds_every_module_and_data_file(installed: Path) -> None:
    source_root = installed.parent / "src"
    wanted = {
        p.relative_to(source_root)
        for p in source_root.rglob("*")
        if p.is_file() and p.suffix in {".py", ".yaml", ".j2", ".ini", ".mako", ".json"}
    }
    got = {p.relative_to(installed) for p in installed.rglob("*") if p.is_file()}
    assert wanted - got == set()
    assert {Path("worker.py"), Path("complaints/codec_server.py"), Path("db/staff_directory.yaml")} <= got


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"nothing listens on {port} after {timeout} s")


@dataclass
class Running:
    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        assert self.process.stderr is not None
        stream = self.process.stderr
        threading.Thread(target=lambda: self.lines.extend(stream), daemon=True).start()

    def wait_for(self, event: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                try:
                    found = json.loads(line)
                except ValueError:
                    continue
                if isinstance(found, dict) and found.get("event") == event:
                    return found
            if self.process.poll() is not None:
                break
            time.sleep(0.5)
        raise AssertionError(f"no {event!r} (exit {self.process.poll()}):\n{''.join(self.lines[-40:])}")


@pytest.fixture(scope="module")
def temporal_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A fresh dev server with the namespace temporal-create-namespace makes and no search attributes."""
    port = free_port()
    namespace = environment(services()["temporal-create-namespace"])["DEFAULT_NAMESPACE"]
    cmd = [temporal_binary(), "server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", str(port)]
    cmd += ["--http-port", str(free_port()), "--metrics-port", str(free_port()), "--namespace", namespace]
    server = subprocess.Popen([*cmd, "--log-level", "error"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    yield from _postgres_database()


def image_environment(service: str, *, temporal: str, database: str, home: Path, installed: Path) -> dict[str, str]:
    """The Dockerfile's ENV under the compose service's environment, mapped onto this machine."""
    final = dockerfile_stages()[-1]
    env = {**dockerfile_env(final), **environment(services()[service])}
    secrets = {
        "COMPLAINTS_CODEC_KEYS": "k1:" + base64.b64encode(bytes(range(32))).decode(),
        "COMPLAINTS_CODEC_LOGIN_SECRET": "test-login-secret",
        "COMPLAINTS_REGULATOR_SIGNING_KEY": "test-signing-key",
    }
    for key, value in env.items():
        match = re.fullmatch(r"\$\{(\w+):\?[^}]*\}", value)
        if match:
            env[key] = secrets[match.group(1)]
    # Files of the image: its site-packages is the installed tree, its home a folder in tmp.
    (workdir,) = final.args("WORKDIR")
    places = {SITE_PACKAGES: installed, workdir: home}
    assert all(destination.startswith(tuple(places)) for _, destination in copies(final))
    for key, value in env.items():
        for inside, outside in places.items():
            if value.startswith(inside):
                env[key] = str(outside) + value[len(inside) :]
    assert host_port(env["COMPLAINTS_TEMPORAL_ADDRESS"])[0] == "temporal"
    assert urlsplit(env["COMPLAINTS_DATABASE_URL"]).hostname == "postgresql"
    env["COMPLAINTS_TEMPORAL_ADDRESS"] = temporal
    env["COMPLAINTS_DATABASE_URL"] = database
    env["COMPLAINTS_METRICS_ADDRESS"] = f"127.0.0.1:{free_port()}"
    return env


def in_image(command: list[str], env: dict[str, str], installed: Path, home: Path) -> dict[str, Any]:
    """Popen arguments that run an image's command here: this venv's python, the installed tree."""
    program, *args = command
    assert program == "python"
    python = PROJECT_ROOT / ".venv" / "bin" / "python"
    assert python.exists()
    # The installed tree first on the path, and no COMPLAINTS_* of this shell's own.
    base = {k: v for k, v in os.environ.items() if not k.startswith("COMPLAINTS_")}
    full_env = {**base, **env, "PYTHONPATH": str(installed), "HOME": str(home)}
    return {"args": [str(python), *args], "cwd": home, "env": full_env, "text": True}


def run_image(command: list[str], env: dict[str, str], installed: Path, home: Path) -> Running:
    return Running(subprocess.Popen(stderr=subprocess.PIPE, **in_image(command, env, installed, home)))


def test_entrypoint_starts_a_worker_and_the_codec_command_serves(
    installed: Path, temporal_port: int, database_url: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    temporal = f"127.0.0.1:{temporal_port}"
    env = image_environment(
        "complaints-worker", temporal=temporal, database=database_url, home=home, installed=installed
    )
    assert env["COMPLAINTS_POLICY"] == str(installed / "policies" / "standard.yaml")
    assert Path(env["COMPLAINTS_POLICY"]).is_file()
    command = entrypoint()
    assert command == ["python", "-m", "worker"]

    # The modules come from the installed tree, not from the repository.
    where = ["python", "-c", "import worker, complaints.codec_server as c; print(worker.__file__, c.__file__)"]
    probe = subprocess.run(capture_output=True, timeout=60, check=True, **in_image(where, env, installed, home))
    assert probe.stdout.split() == [str(installed / "worker.py"), str(installed / "complaints" / "codec_server.py")]

    worker = run_image(command, env, installed, home)
    try:
        started = worker.wait_for("worker started", timeout=240)
        assert started["temporal"] == temporal
        # The namespace the compose file creates takes the policy's retention (5 years) at start.
        assert worker.wait_for("namespace retention", timeout=5)["days"] == 1827
        # The metrics endpoint the Kubernetes probes use answers.
        metrics = f"http://{env['COMPLAINTS_METRICS_ADDRESS']}/metrics"
        with urllib.request.urlopen(metrics, timeout=5) as response:
            assert response.status == 200 and b"temporal_" in response.read()
        worker.process.send_signal(signal.SIGTERM)
        assert worker.process.wait(timeout=60) == 0
        worker.wait_for("worker stopped", timeout=5)
    finally:
        if worker.process.poll() is None:
            worker.process.kill()

    codec_env = image_environment(
        "complaints-codec", temporal=temporal, database=database_url, home=home, installed=installed
    )
    codec_port = free_port()
    assert host_port(codec_env["COMPLAINTS_CODEC_ADDRESS"])[0] == "0.0.0.0"
    codec_env["COMPLAINTS_CODEC_ADDRESS"] = f"127.0.0.1:{codec_port}"
    codec = run_image(services()["complaints-codec"]["entrypoint"], codec_env, installed, home)
    try:
        wait_for_port(codec_port, timeout=60)
        with urllib.request.urlopen(f"http://127.0.0.1:{codec_port}/health", timeout=5) as response:
            assert json.loads(response.read()) == {"ok": True, "current_key": "k1"}
    finally:
        codec.process.terminate()
        codec.process.wait(timeout=30)
