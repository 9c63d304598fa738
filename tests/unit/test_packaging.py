"""The distribution and the image ship every top-level package the code is split into."""

from __future__ import annotations

import re
import tomllib

from paths import REPO


def packaged() -> set[str]:
    """Top-level packages pyproject.toml includes in the distribution."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    return {pattern.rstrip("*") for pattern in include}


def test_every_top_level_package_is_in_the_distribution() -> None:
    packages = {p.parent.name for p in REPO.glob("*/__init__.py")}
    assert packages == packaged() | {"bench"}  # the benchmark runs from a checkout only


def test_the_image_copies_every_packaged_package() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (\w+)/ \1/$", dockerfile, flags=re.MULTILINE))
    assert packaged() <= copied


def test_the_serving_install_has_no_tensorflow() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    serving = " ".join(config["project"]["dependencies"]).lower()
    assert "tensorflow" not in serving and "keras" not in serving
    assert "ai-edge-litert" in serving
    extras = config["project"]["optional-dependencies"]
    assert any(d.startswith("tensorflow") for d in extras["tensorflow"])
