"""The manual's examples run as printed, on the default models, against `make run`.

Every `$ command` block of README.md and docs/ (tests/support/doc_examples.py), and the
measured figures the manual quotes (tests/support/doc_figures.py). The default models are
trained once, by the command `make run` runs (`python -m training`, its defaults): the outputs
a new user sees are the ones printed.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from doc_examples import DOCUMENTS, examples_in, report, run_document
from doc_figures import missing_figures
from paths import REPO
from tool_support import require_nginx, require_tool

# The default models train in minutes, within the first test that needs them.
TRAINING_TIMEOUT = 2400

WITH_EXAMPLES = [document for document in DOCUMENTS if examples_in(document)]

# A skipped example must say why; these are the ones the manual may skip, and no more.
MOST_SKIPPED_BLOCKS = 1


@pytest.fixture(scope="module")
def default_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default models, as `make run` trains them (minutes: once for the module)."""
    require_nginx()  # before minutes of training: what the examples need must be there
    for tool in ("curl", "jq", "make"):
        require_tool(tool, f"Debian's {tool} package")
    models_dir = tmp_path_factory.mktemp("default-models")
    command = [sys.executable, "-m", "training", "--models-dir", str(models_dir)]
    trained = subprocess.run(
        command, capture_output=True, text=True, timeout=TRAINING_TIMEOUT, check=False
    )
    assert trained.returncode == 0, trained.stdout[-3000:] + trained.stderr[-3000:]
    return models_dir


@pytest.mark.timeout(TRAINING_TIMEOUT)
@pytest.mark.parametrize("document", WITH_EXAMPLES, ids=lambda path: path.name)
def test_every_example_prints_what_the_manual_says(
    document: Path, default_models_dir: Path, tmp_path: Path
) -> None:
    ran, results = run_document(document, default_models_dir, tmp_path / "service.log")
    failures = report(ran, results)
    assert not failures, (
        f"{len(failures)} example(s) of {document.name} print something else "
        "(python tests/support/doc_examples.py --models-dir DIR --write rewrites them):\n\n"
        + "\n".join(failures)
    )


def test_few_examples_are_skipped_and_each_says_why() -> None:
    skipped = [
        example for document in DOCUMENTS for example in examples_in(document) if example.skip
    ]
    assert len(skipped) <= MOST_SKIPPED_BLOCKS, [example.where for example in skipped]
    assert all(len(example.skip or "") > 20 for example in skipped)


@pytest.mark.timeout(TRAINING_TIMEOUT)
def test_the_measured_figures_are_the_default_models(default_models_dir: Path) -> None:
    missing = missing_figures(default_models_dir)
    assert not missing, "figures the manual does not print as measured:\n" + "\n".join(missing)


def test_the_runner_finds_the_manuals_examples() -> None:
    """Guards the parser: were it to miss the blocks, the tests above would pass vacuously."""
    commands = {
        document.relative_to(REPO).as_posix(): sum(
            len(example.commands) for example in examples_in(document)
        )
        for document in DOCUMENTS
    }
    assert commands["README.md"] >= 1
    assert commands["docs/api.md"] >= 15
    assert commands["docs/decisions.md"] >= 14
    assert commands["docs/operations.md"] >= 6


def test_the_scripts_the_manual_shows_are_the_ones_it_runs() -> None:
    """docs/api.md shows examples/triton_client.py whole, then runs it: the two stay one."""
    script = (REPO / "examples" / "triton_client.py").read_text()
    shown = "\n".join(f"    {line}" if line else "" for line in script.splitlines())
    assert shown in (REPO / "docs" / "api.md").read_text()


def test_every_command_line_of_the_manual_is_an_example_the_runner_reads() -> None:
    """A `$` line the parser skipped (a block under a heading or a directive without a blank
    line, or under a paragraph's text) would go untested: each must be one it read."""
    for document in DOCUMENTS:
        lines = document.read_text().splitlines()
        shown = {number for number, line in enumerate(lines, 1) if re.match(r" {4,}\$ ", line)}
        read = {command.line for example in examples_in(document) for command in example.commands}
        assert shown == read, f"{document.name}: lines {sorted(shown - read)} are not read"
