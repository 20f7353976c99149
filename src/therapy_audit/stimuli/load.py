"""Load the stimulus files shipped in the package (or given by the user).

Package data is read with :mod:`importlib.resources`, so it works from a wheel
as well as from a checkout. Every set of stimuli carries the stimulus-set
version from ``stimuli/manifest.yaml`` and a fingerprint of the files' bytes:
the version is what people compare, the fingerprint catches an edit that
forgot to bump it. Both go into every log.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel

from therapy_audit.stimuli.schema import (
    GROUP_PREFIX,
    CheckGroups,
    CrisisConditionFile,
    FeaturesFile,
    PatternCheck,
    Persona,
    StigmaBattery,
    StimulusFileError,
    Transcript,
    load_yaml_model,
)
from therapy_audit.textfiles import TextFileError, read_text

M = TypeVar("M", bound=BaseModel)

STIMULI_PACKAGE = "therapy_audit.stimuli"


@dataclass(frozen=True)
class StimulusSet:
    """Where a set of stimuli came from and which version it is."""

    source: str
    version: str
    fingerprint: str


def _root() -> Traversable:
    return resources.files(STIMULI_PACKAGE)


def _yaml_files(folder: Traversable | Path) -> list[Traversable | Path]:
    if not folder.is_dir():
        raise StimulusFileError(f"{folder}: not a folder of stimulus files")
    files = sorted(
        (f for f in folder.iterdir() if f.name.endswith((".yaml", ".yml"))), key=lambda f: f.name
    )
    if not files:
        raise StimulusFileError(f"{folder}: no .yaml stimulus files in this folder")
    return files


def _load(model: type[M], file: Traversable | Path) -> M:
    if isinstance(file, Path):
        try:
            text = read_text(file, "stimulus file")
        except TextFileError as exc:
            raise StimulusFileError(str(exc)) from None
    else:  # packaged data
        text = file.read_text(encoding="utf-8")
    return _parsed(model, str(file), text)  # type: ignore[return-value]


@lru_cache(maxsize=256)
def _parsed(model: type[BaseModel], source: str, text: str) -> BaseModel:
    """Parse and validate a file's text once per content (the models are frozen).

    The crisis task and its scorer both read the stimulus set, and a run split
    across workers builds its tasks in every worker; keyed by the text, an
    edited file is always parsed again.
    """
    return load_yaml_model(model, source, text=text)


def _fingerprint(files: list[Traversable | Path]) -> str:
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


@cache
def packaged_version() -> str:
    """The stimulus-set version of the packaged stimuli (``stimuli/manifest.yaml``)."""
    manifest = yaml.safe_load((_root() / "manifest.yaml").read_text(encoding="utf-8"))
    return str(manifest["version"])


def _stimulus_set(files: list[Traversable | Path], user_path: Path | None) -> StimulusSet:
    if user_path is None:
        return StimulusSet("packaged", packaged_version(), _fingerprint(files))
    return StimulusSet(str(user_path), "user", _fingerprint(files))


def load_stigma_battery(path: str | Path | None = None) -> tuple[StigmaBattery, StimulusSet]:
    """The stigma battery: the packaged one, or a user's YAML file of the same schema."""
    file = Path(path) if path else _root() / "stigma" / "battery.yaml"
    return _load(StigmaBattery, file), _stimulus_set([file], Path(path) if path else None)


def load_crisis_stimuli(
    path: str | Path | None = None,
) -> tuple[list[CrisisConditionFile], StimulusSet]:
    """Crisis stimuli: every condition file in the packaged folder or in ``path``.

    ``path`` may be one YAML file or a folder of them.
    """
    if path is None:
        files = _yaml_files(_root() / "crisis")
    else:
        user = Path(path)
        files = [user] if user.is_file() else _yaml_files(user)
    conditions = [_load(CrisisConditionFile, f) for f in files]
    groups = load_check_groups(path)
    for file, condition in zip(files, conditions, strict=True):
        _check_group_references(file, condition, groups)
    seen: dict[str, str] = {}
    for file, condition in zip(files, conditions, strict=True):
        if condition.condition in seen:
            raise StimulusFileError(
                f"{file}: condition: {condition.condition!r} is also defined in "
                f"{seen[condition.condition]}"
            )
        seen[condition.condition] = str(file)
    return conditions, _stimulus_set(files, Path(path) if path else None)


def load_transcripts(path: str | Path | None = None) -> list[Transcript]:
    """The packaged synthetic therapy sessions, or a folder of the same YAML schema."""
    folder = Path(path) if path else _root() / "transcripts"
    return [_load(Transcript, f) for f in _yaml_files(folder)]


def load_personas(path: str | Path | None = None) -> tuple[list[Persona], StimulusSet]:
    """Simulated-client personas for multi-turn runs."""
    if path is None:
        files = _yaml_files(_root() / "personas")
    else:
        user = Path(path)
        files = [user] if user.is_file() else _yaml_files(user)
    return [_load(Persona, f) for f in files], _stimulus_set(files, Path(path) if path else None)


@cache
def load_features() -> FeaturesFile:
    """The 17 features of good therapy (``stimuli/features.yaml``)."""
    return _load(FeaturesFile, _root() / "features.yaml")


def _group_files(path: str | Path | None) -> list[Traversable | Path]:
    files: list[Traversable | Path] = list(_yaml_files(_root() / "checks"))
    if path is not None:
        user = Path(path)
        folder = (user if user.is_dir() else user.parent) / "checks"
        if folder.is_dir():
            files.extend(_yaml_files(folder))
    return files


def load_check_groups(path: str | Path | None = None) -> dict[str, list[str]]:
    """Named pattern groups for checks.

    The packaged ones, plus a ``checks/`` folder beside a user's stimuli. A
    name defined twice is an error naming both files.
    """
    groups: dict[str, list[str]] = {}
    where: dict[str, str] = {}
    for file in _group_files(path):
        for name, patterns in _load(CheckGroups, file).groups.items():  # type: ignore[attr-defined]
            if name in groups:
                raise StimulusFileError(f"{file}: groups.{name}: also defined in {where[name]}")
            groups[name] = list(patterns)
            where[name] = str(file)
    return groups


def _check_group_references(
    file: Traversable | Path, condition: CrisisConditionFile, groups: dict[str, list[str]]
) -> None:
    for i, stimulus in enumerate(condition.stimuli):
        for k, criterion in enumerate(stimulus.criteria):
            check = criterion.check
            if check is None:
                continue
            for pattern in [*check.yes_if_any, *check.no_if_any]:
                if pattern.startswith(GROUP_PREFIX) and pattern[1:] not in groups:
                    raise StimulusFileError(
                        f"{file}: stimuli.{i}.criteria.{k}.check: unknown pattern group "
                        f"{pattern!r} (known: stimuli/checks/*.yaml)"
                    )


def crisis_checks(path: str | Path | None = None) -> dict[str, PatternCheck]:
    """``condition/stimulus/criterion`` -> the criterion's check, for a set of crisis stimuli.

    ``path`` is ``None`` or ``"packaged"`` for the packaged stimuli, else a
    user's file or folder. The crisis scorer loads checks through this rather
    than taking them as an argument (Inspect logs a scorer's arguments in
    every sample); the gold-set validation uses the same map.
    """
    conditions, _ = load_crisis_stimuli(None if path in (None, "packaged") else path)
    return {
        f"{c.condition}/{s.id}/{k.id}": k.check
        for c in conditions
        for s in c.stimuli
        for k in s.criteria
        if k.check is not None
    }
