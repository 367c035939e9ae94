"""What the deploy/ tests share: the files, and reading the compose file."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from complaints.config import PROJECT_ROOT

DEPLOY = PROJECT_ROOT / "deploy"
COMPOSE_FILE = DEPLOY / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
K8S_FILE = DEPLOY / "k8s" / "complaints.yaml"
HELM_VALUES = DEPLOY / "helm" / "temporal-values.yaml"
CHART_VERSION = "1.6.0"
CHART_DEFAULTS = DEPLOY / "schemas" / f"temporal-chart-{CHART_VERSION}-values.yaml"
HELM_RELEASE = "temporal"  # the release name of the install command in temporal-values.yaml
KUBERNETES_VERSION = "1.33.0"
SITE_PACKAGES = "/usr/local/lib/python3.11/site-packages"  # of the python:3.11-slim image


def load_all(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


def compose() -> dict[str, Any]:
    docs = load_all(COMPOSE_FILE)
    assert len(docs) == 1
    data: dict[str, Any] = docs[0]
    return data


def services() -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = compose()["services"]
    return result


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a mapping (both of Compose's forms)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def published(service: dict[str, Any]) -> dict[int, int]:
    """Container port -> host port of a service's short-syntax `ports`."""
    result = {}
    for entry in service.get("ports", []):
        host, _, container = str(entry).rpartition(":")
        result[int(container)] = int(host.rpartition(":")[2])
    return result


def host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


def setting_names() -> set[str]:
    source = (PROJECT_ROOT / "complaints" / "config.py").read_text(encoding="utf-8")
    return set(re.findall(r'"(COMPLAINTS_[A-Z0-9_]+)"', source))


@dataclass
class Stage:
    image: str
    name: str = ""
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, keyword: str) -> list[str]:
        return [a for k, a in self.instructions if k == keyword]


def dockerfile_stages() -> list[Stage]:
    lines, current = [], ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if raw.lstrip().startswith("#") or not raw.strip():
            continue
        if raw.rstrip().endswith("\\"):
            current += raw.rstrip()[:-1] + " "
            continue
        lines.append(current + raw)
        current = ""
    stages: list[Stage] = []
    for line in lines:
        keyword, _, args = line.strip().partition(" ")
        keyword, args = keyword.upper(), args.strip()
        if keyword == "FROM":
            words = args.split()
            stages.append(Stage(words[0], words[2] if len(words) == 3 and words[1].upper() == "AS" else ""))
        else:
            stages[-1].instructions.append((keyword, args))
    return stages


def dockerfile_env(stage: Stage) -> dict[str, str]:
    env: dict[str, str] = {}
    for args in stage.args("ENV"):
        for word in shlex.split(args):
            key, _, value = word.partition("=")
            env[key] = value
    return env
