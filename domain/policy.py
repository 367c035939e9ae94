"""Loading and validating policy files."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from models.policy import Policy


class PolicyError(ValueError):
    pass


def load_policy(path: Path) -> Policy:
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise PolicyError(f"policy file not found: {path}") from err
    except yaml.YAMLError as err:
        raise PolicyError(f"policy file {path} is not valid YAML: {err}") from err
    if isinstance(raw, dict) and isinstance(raw.get("regulatory_pack"), str):
        raw["regulatory_pack"] = _load_pack(Path(path).parent / "packs", raw["regulatory_pack"])
    try:
        return Policy.model_validate(raw)
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}" for e in err.errors())
        raise PolicyError(f"policy file {path} is invalid: {problems}") from err


def _load_pack(directory: Path, name: str) -> object:
    """A regulatory pack by file name (``cn-2020`` -> packs/cn-2020.yaml)."""
    path = directory / f"{name}.yaml"
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        known = ", ".join(sorted(p.stem for p in directory.glob("*.yaml"))) or "none"
        raise PolicyError(f"regulatory_pack: no pack {name!r} (known: {known})") from err


class PolicyStore:
    """Policies by version. New complaints get ``current``; open ones keep their pinned version."""

    def __init__(self, current: Policy, others: list[Policy] | None = None) -> None:
        self.current = current
        self._by_version = {p.version: p for p in [*(others or []), current]}

    @classmethod
    def from_file(cls, path: Path) -> PolicyStore:
        current = load_policy(path)
        # Every policy file beside the current one stays loadable, so pinned versions resolve.
        others = [
            load_policy(p) for p in sorted(Path(path).parent.glob("*.yaml")) if p.resolve() != Path(path).resolve()
        ]
        return cls(current, others)

    def adopt(self, policy: Policy) -> None:
        """Make ``policy`` the one new complaints get (open ones keep theirs until re-applied)."""
        self._by_version[policy.version] = policy
        self.current = policy

    def __contains__(self, version: object) -> bool:
        return version in self._by_version

    def get(self, version: str) -> Policy:
        try:
            return self._by_version[version]
        except KeyError as err:
            raise PolicyError(f"policy version {version!r} is not available to this worker") from err
