"""The manual's examples, run: every `$ command` in README.md and docs/ against a real service.

An example is an indented code block whose first line starts with `$ `. Each command (with its
`\\` continuation lines) runs in bash, in a scratch directory laid out as a checkout is after
`make run` (`models/`, `examples/`, `policy/`, `.venv`), with `localhost:8080` (and gRPC's
`localhost:8081`) pointed at the service started for that document by `make run`. What it
prints (stdout, then stderr) must match the lines under the command: `...` matches anything (as
in doctest), a decimal matches within a small tolerance, and the values that differ on every
run (request ids the service makes, times, the decision chain's hashes, durations and rates)
are compared by their shape.

Directives, in an HTML comment on the line before a block (invisible on the rendered page):

    <!-- docs-test: skip REASON -->   not run; the reason is required and reported
    <!-- docs-test: retry -->         run again, for up to 30 s, until it matches (the service
                                      picks up a published version at its next poll)
    <!-- docs-test: setup NAME -->    run a named setup (SETUPS) in the scratch directory first
    <!-- docs-test: service K=V ... -->  (re)start the service with these settings first (they
                                      hold for the rest of the document)
    <!-- docs-test: exit N -->        its commands end with status N (else each must succeed)

`python tests/support/doc_examples.py --models-dir DIR [--write] [FILE ...]` runs them by hand
on a trained default repository; `--write` replaces each output that does not match, or that
is written out in full and differs at all, with what the command printed (an abbreviated
output that still matches is kept).
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DOCUMENTS = (REPO / "README.md", *sorted((REPO / "docs").glob("*.md")))
DEFAULT_ADDRESS = "localhost:8080"
DEFAULT_GRPC_ADDRESS = "localhost:8081"  # SERVICE_GRPC_PORT's default
RETRY_SECONDS = 30.0
COMMAND_TIMEOUT = 900.0

# Set by the test run, not by a user's shell: `make test`'s own variables would steer `make run`
# (MODELS_DIR to the developer's repository), and the metrics directory to the test's.
_NOT_A_USERS_SHELL = frozenset(
    {
        "PROMETHEUS_MULTIPROC_DIR",
        "MAKEFLAGS",
        "MAKELEVEL",
        "MFLAGS",
        "MODELS_DIR",
        "STAGING_DIR",
        "VENV",
        "PYTHON",
    }
)

_DIRECTIVE = re.compile(
    r"^\s*<!-- docs-test: (?P<verb>skip|retry|setup|service|exit)\b\s*(?P<argument>.*?)\s*-->\s*$"
)


@dataclass
class Command:
    """One `$ command` of an example and the output the document prints for it."""

    line: int  # 1-based line of the `$` in the document
    text: str  # the command as bash reads it (continuations joined by their newlines)
    expected: str


@dataclass
class Example:
    """One indented block of commands, with the directives written above it."""

    document: Path
    first_line: int
    last_line: int
    indent: str
    commands: list[Command]
    skip: str | None = None
    retry: bool = False
    setups: list[str] = field(default_factory=list)
    settings: dict[str, str] | None = None  # restart the service with these first
    exit_status: int = 0  # what each of its commands must exit with

    @property
    def where(self) -> str:
        return f"{_shown(self.document)}:{self.first_line}"


def _shown(document: Path) -> str:
    return str(document.relative_to(REPO)) if document.is_relative_to(REPO) else str(document)


@dataclass
class Outcome:
    """What running one command gave."""

    command: Command
    actual: str
    matched: bool  # printed what the document says, and exited as it must
    status: int = 0

    @property
    def stale(self) -> bool:
        """Whether --write replaces the documented output: it does not match, or it is written
        out in full (no `...`) and differs at all, if only in a time, id or hash (so that the
        times, ids and hashes of one document come from one run and agree with each other)."""
        if not self.matched:
            return True
        return "..." not in self.command.expected and self.command.expected != self.actual


def examples_in(document: Path) -> list[Example]:
    """Every example block of a Markdown document, in order."""
    lines = document.read_text().splitlines()
    examples: list[Example] = []
    number = 0
    while number < len(lines):
        line = lines[number]
        stripped = line.lstrip(" ")
        indent = line[: len(line) - len(stripped)]
        if not stripped.startswith("$ ") or len(indent) < 4 or _continues_text(lines, number):
            number += 1
            continue
        end = number
        while end + 1 < len(lines) and (
            not lines[end + 1].strip() or lines[end + 1].startswith(indent)
        ):
            if not lines[end + 1].strip() and _next_text(lines, end + 1).startswith(f"{indent}$ "):
                break  # a blank line, then a command: the next example
            end += 1
        while not lines[end].strip():
            end -= 1
        block = [text[len(indent) :] for text in lines[number : end + 1]]
        example = Example(document, number + 1, end + 1, indent, _commands(block, number + 1))
        _apply_directives(example, lines, number)
        examples.append(example)
        number = end + 1
    return examples


def _next_text(lines: list[str], number: int) -> str:
    """The first line from `number` on that is not blank ("" at the end)."""
    return next((line for line in lines[number:] if line.strip()), "")


def _continues_text(lines: list[str], number: int) -> bool:
    """True for an indented line right under a paragraph's text: Markdown reads it as the
    paragraph's continuation, not as a code block."""
    return number > 0 and bool(lines[number - 1].strip())


def _commands(block: list[str], first_line: int) -> list[Command]:
    commands: list[Command] = []
    index = 0
    while index < len(block):
        if not block[index].startswith("$ "):
            raise ValueError(f"line {first_line + index}: output before any command")
        start = index
        text = [block[index][2:]]
        while text[-1].endswith("\\") and index + 1 < len(block):
            index += 1
            text.append(block[index])
        index += 1
        output: list[str] = []
        while index < len(block) and not block[index].startswith("$ "):
            output.append(block[index])
            index += 1
        commands.append(Command(first_line + start, "\n".join(text), _tidy("\n".join(output))))
    return commands


def _apply_directives(example: Example, lines: list[str], number: int) -> None:
    above = number - 1
    while above >= 0 and not lines[above].strip():
        above -= 1
    while above >= 0 and (match := _DIRECTIVE.match(lines[above])):
        verb, argument = match["verb"], match["argument"]
        if verb == "skip":
            if not argument:
                raise ValueError(f"{example.where}: a skipped example must say why")
            example.skip = argument
        elif verb == "retry":
            example.retry = True
        elif verb == "service":
            pairs = argument.split()
            if not pairs or not all("=" in pair for pair in pairs):
                raise ValueError(f"{example.where}: service takes SETTING=value pairs")
            example.settings = dict(pair.split("=", 1) for pair in pairs)
        elif verb == "exit":
            if not argument.isdigit():
                raise ValueError(f"{example.where}: exit takes the status its commands end with")
            example.exit_status = int(argument)
        else:
            if argument not in SETUPS:
                raise ValueError(f"{example.where}: unknown setup {argument!r}")
            example.setups.insert(0, argument)
        above -= 1


def _tidy(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


# Values that differ on every run, each replaced by its kind and its order of first appearance
# (`<hash-1>`, `<hash-2>`, ...): the values themselves may change, but which ones are equal may
# not (a record's previous_hash is the hash before it). Applied to both sides.
_VOLATILE: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?P<value>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d))"), "time"),
    (re.compile(r'(?:"request_id":\s*"|X-Request-ID: )(?P<value>[0-9a-f]{32})\b'), "id"),
    (re.compile(r'"(?:previous_)?hash":\s*"(?P<value>(?!0{64})[0-9a-f]{64})"'), "hash"),
    (re.compile(r"(?:last|chain) hash:? (?P<value>[0-9a-f]{64})\b"), "hash"),
)
# Measurements of the machine, not of the product.
_DURATIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b\d+(\.\d+)? s, [\d,]+ rows/s"), "<seconds> s, <rate> rows/s"),
    (re.compile(r"\bin \d+(\.\d+)? s\b"), "in <seconds> s"),
)


def normalised(text: str) -> str:
    seen: dict[str, dict[str, int]] = {}
    for pattern, kind in _VOLATILE:
        numbers = seen.setdefault(kind, {})

        def numbered(
            found: re.Match[str], kind: str = kind, numbers: dict[str, int] = numbers
        ) -> str:
            value = found["value"]
            number = numbers.setdefault(value, len(numbers) + 1)
            whole, start = found.group(0), found.start("value") - found.start()
            return f"{whole[:start]}<{kind}-{number}>{whole[start + len(value) :]}"

        text = pattern.sub(numbered, text)
    for pattern, replacement in _DURATIONS:
        text = pattern.sub(replacement, text)
    return text


# A number as printed: thousands separated by commas or not, a decimal part, an exponent.
_NUMBER = r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?"
_NUMBER_IN_TEXT = re.compile(r"(?<![\w.<-])" + _NUMBER)
# How far a printed decimal written in full may be from the documented one: training is
# deterministic, but another CPU may round a float op differently in the last bits. A rounded
# figure (at most four decimals) may move by one unit of its last digit, as rounding flips.
RELATIVE_TOLERANCE = 1e-5
ROUNDED_DECIMALS = 4


def matches(expected: str, actual: str) -> bool:
    """Whether `actual` is what `expected` documents.

    As doctest's ELLIPSIS rule (`...` matches anything, each piece between found leftmost, in
    order), on the normalised texts, except that a documented decimal matches a printed one
    within the tolerances of `_close`. Integers (counts, versions, codes) must be equal.
    """
    expected, actual = normalised(expected), normalised(actual)
    if expected == actual:
        return True
    pieces = re.split(r" *\.\.\. *", expected)  # `, ...]` abbreviates as `...]` does
    position = 0
    for index, piece in enumerate(pieces):
        pattern, documented = _piece_pattern(piece)
        first, last = index == 0, index == len(pieces) - 1
        start = position
        while True:
            if first:
                found = pattern.fullmatch(actual) if last else pattern.match(actual)
            else:
                found = _ending(pattern, actual, start) if last else pattern.search(actual, start)
            if found is None:
                return False
            if all(_close(want, got) for want, got in zip(documented, found.groups(), strict=True)):
                break
            if first or last:
                return False
            start = found.start() + 1
        position = found.end()
    return True


def _piece_pattern(piece: str) -> tuple[re.Pattern[str], list[str]]:
    """A piece of documented output as a regex, each number in it a group."""
    parts: list[str] = []
    numbers: list[str] = []
    position = 0
    for found in _NUMBER_IN_TEXT.finditer(piece):
        parts += [re.escape(piece[position : found.start()]), f"({_NUMBER})"]
        numbers.append(found.group())
        position = found.end()
    parts.append(re.escape(piece[position:]))
    return re.compile("".join(parts), re.DOTALL), numbers


def _ending(pattern: re.Pattern[str], text: str, start: int) -> re.Match[str] | None:
    """The last piece must end the text: its leftmost match that does."""
    for found in re.finditer(f"(?=({pattern.pattern}))", text[start:], re.DOTALL):
        if start + found.start() + len(found.group(1)) == len(text):
            return pattern.fullmatch(text, start + found.start())
    return None


def _close(documented: str, printed: str) -> bool:
    """Integers equal, written alike; decimals within the tolerances above."""
    if ("," in documented) != ("," in printed):
        return False  # 2,509 is not 2509: the grouping is part of what is printed
    want, got = documented.replace(",", ""), printed.replace(",", "")
    if not re.search("[.eE]", want) or not re.search("[.eE]", got):
        return want == got
    mantissa, _, exponent = want.lower().partition("e")
    got_mantissa, _, got_exponent = got.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    if decimals == len(got_mantissa.partition(".")[2]) and exponent == got_exponent:
        if decimals <= ROUNDED_DECIMALS:  # a rounded figure: one unit of its last digit
            unit = abs(float(f"1e{int(exponent or 0) - decimals}"))
            return abs(float(want) - float(got)) <= unit * 1.000001
    scale = max(abs(float(want)), abs(float(got)))
    return abs(float(want) - float(got)) <= RELATIVE_TOLERANCE * scale


# Setups a directive can name: each prepares the scratch directory for the example below it.
def _applicants_with_errors(workdir: Path) -> None:
    """A 3,000-row training CSV gone wrong: a word for every other age, a letter for every third
    sex, and one `?` in each number column in turn (docs/training.md)."""
    from csv_files import write_csv

    path = workdir / "applicants.csv"
    records = write_csv(path, rows=3000)
    numbers = [name for name, value in records[0].items() if "." in value]
    for index, record in enumerate(records):
        line = index + 2  # the header is line 1
        if line % 2 == 0:
            record["age"] = "old"
        if line % 3 == 0:
            record["sex"] = "F"
        if index < len(numbers):
            record[numbers[index]] = "?"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)


def _book_with_errors(workdir: Path) -> None:
    """A generated book of 100,000 applicants, four of them with a value out of bounds."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = workdir / "book.parquet"
    command = [sys.executable, "-m", "training", "sample", "--rows", "100000", "--out", str(path)]
    subprocess.run(command, check=True, capture_output=True)
    table = pq.read_table(path)
    broken: dict[str, dict[int, Any]] = {
        "age": {17: 16, 4242: 130},
        "hba1c": {31337: -1.0},
        "sex": {77777: "F"},
    }
    for name, values in broken.items():
        column = table.column(name).to_pylist()
        for row, value in values.items():
            column[row] = value
        index = table.schema.get_field_index(name)
        table = table.set_column(index, name, pa.array(column, table.schema.field(name).type))
    pq.write_table(table, path)


SETUPS: dict[str, Callable[[Path], None]] = {
    "applicants-with-errors": _applicants_with_errors,
    "book-with-errors": _book_with_errors,
}


class Workspace:
    """The scratch directory a document's commands run in, and the service they address.

    Laid out as a checkout after `make run`: a copy of the default models with the shipped
    policy published, `examples/`, `policy/` and `.venv`. The service is `make run` itself.
    """

    def __init__(self, directory: Path, models_dir: Path, log: Path) -> None:
        from service_support import free_port

        self.directory = directory
        self.log = log
        shutil.copytree(models_dir, directory / "models", symlinks=True)
        for name in ("examples", "policy"):
            (directory / name).symlink_to(REPO / name)
        (directory / ".venv").symlink_to(Path(sys.prefix))
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("SERVICE_") and key not in _NOT_A_USERS_SHELL
        }
        self.env |= {"TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0"}
        self.address = f"127.0.0.1:{free_port()}"
        self.grpc_address = f"127.0.0.1:{free_port()}"
        while self.grpc_address == self.address:
            self.grpc_address = f"127.0.0.1:{free_port()}"
        self.service: subprocess.Popen[bytes] | None = None
        published, status = self.run(
            ".venv/bin/python -m policy publish --if-none --models-dir models"
        )
        if status != 0:
            raise AssertionError(f"the shipped policy could not be published: {published}")

    def serve(self, settings: dict[str, str]) -> None:
        """(Re)start `make run` here with these SERVICE_* settings; wait until it is ready."""
        from service_support import launch, make_run, wait_ready

        self.stop()
        host, port = self.address.split(":")
        grpc_port = self.grpc_address.split(":")[1]
        env = self.env | settings | {"SERVICE_HOST": host, "SERVICE_PORT": port}
        env |= {"SERVICE_GRPC_PORT": grpc_port}
        env.setdefault("SERVICE_RELOAD_INTERVAL_SECONDS", "0.5")
        self.service = launch(make_run(), env, self.log, cwd=self.directory)
        try:
            wait_ready(f"http://{self.address}", timeout=180)
        except TimeoutError as exc:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise AssertionError(f"make run did not serve: {exc}; its log:\n{tail}") from None

    def stop(self) -> None:
        from service_support import stop_service

        if self.service is not None:
            stop_service(self.service)
            self.service = None

    def run(self, command: str) -> tuple[str, int]:
        """Run a documented command as a user would: what it printed, as they would read it,
        and its exit status. A command past COMMAND_TIMEOUT is killed with all it started."""
        text = command.replace(DEFAULT_ADDRESS, self.address)
        text = text.replace(DEFAULT_GRPC_ADDRESS, self.grpc_address)
        with subprocess.Popen(
            ["bash", "-o", "pipefail", "-c", text],
            cwd=self.directory,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: a pipeline dies whole
        ) as process:
            try:
                stdout, stderr = process.communicate(timeout=COMMAND_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                stdout, stderr = process.communicate()
        # What it printed, then what it said on stderr: the order a terminal shows is a race.
        output = (stdout + stderr).decode(errors="replace")
        # Paths the commands print absolute read as the user's own working directory.
        output = output.replace(f"{self.directory}/", "").replace(self.address, DEFAULT_ADDRESS)
        output = output.replace(self.grpc_address, DEFAULT_GRPC_ADDRESS)
        return _tidy(output), process.returncode


def run_example(example: Example, workspace: Workspace) -> list[Outcome]:
    """Run an example's commands in order; with `retry`, the whole block again until it matches."""
    for name in example.setups:
        SETUPS[name](workspace.directory)
    if example.settings is not None:
        workspace.serve(example.settings)
    deadline = time.monotonic() + RETRY_SECONDS
    while True:
        outcomes = []
        for command in example.commands:
            actual, status = workspace.run(command.text)
            matched = matches(command.expected, actual) and status == example.exit_status
            outcomes.append(Outcome(command, actual, matched, status))
        if all(outcome.matched for outcome in outcomes) or not example.retry:
            return outcomes
        if time.monotonic() > deadline:
            return outcomes
        time.sleep(0.5)


def run_document(
    document: Path, models_dir: Path, log: Path
) -> tuple[list[Example], list[list[Outcome]]]:
    """Run every example of a document in order, in one workspace; skipped ones are not run.

    The service starts before the first example that addresses it, as `make run` starts it.
    """
    examples = examples_in(document)
    results: list[list[Outcome]] = []
    with tempfile.TemporaryDirectory(prefix="docs-") as scratch:
        workspace = Workspace(Path(scratch), models_dir, log)
        try:
            for example in examples:
                if example.skip:
                    results.append([])
                    continue
                if example.settings is None and workspace.service is None and _addresses(example):
                    workspace.serve({})
                results.append(run_example(example, workspace))
        finally:
            workspace.stop()
    return examples, results


def _addresses(example: Example) -> bool:
    return any(
        DEFAULT_ADDRESS in command.text or DEFAULT_GRPC_ADDRESS in command.text
        for command in example.commands
    )


def report(examples: list[Example], results: list[list[Outcome]]) -> list[str]:
    """A readable account of every command whose output did not match."""
    failures = []
    for example, outcomes in zip(examples, results, strict=True):
        for outcome in outcomes:
            if not outcome.matched:
                failures.append(
                    f"{_shown(example.document)}:{outcome.command.line}: "
                    f"$ {outcome.command.text}\n--- documented\n{outcome.command.expected}\n"
                    f"--- printed (exit status {outcome.status}, expected {example.exit_status})\n"
                    f"{outcome.actual}\n"
                )
    return failures


def write_back(document: Path, examples: list[Example], results: list[list[Outcome]]) -> int:
    """Replace each stale output with the printed one; return how many changed."""
    lines = document.read_text().splitlines()
    changed = 0
    # From the end, so earlier line numbers stay valid.
    for example, outcomes in reversed(list(zip(examples, results, strict=True))):
        if not any(outcome.stale for outcome in outcomes):
            continue
        block: list[str] = []
        for outcome in outcomes:
            if outcome.stale and _unwritable(outcome.actual):
                raise ValueError(
                    f"{_shown(document)}:{outcome.command.line}: what `{outcome.command.text}` "
                    "printed cannot be written back as is (a line starting with `$ ` would run "
                    "as a command, a `...` would match anything): abbreviate it by hand"
                )
            text = outcome.command.text.splitlines()
            block += [f"$ {text[0]}", *text[1:]]
            kept = outcome.actual if outcome.stale else outcome.command.expected
            block += kept.splitlines() if kept else []
            changed += outcome.stale
        indented = [f"{example.indent}{line}" if line else "" for line in block]
        lines[example.first_line - 1 : example.last_line] = indented
    document.write_text("\n".join(lines) + "\n")
    return changed


def _unwritable(printed: str) -> bool:
    return "..." in printed or any(line.startswith("$ ") for line in printed.splitlines())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models-dir", type=Path, required=True, help="a trained default repository"
    )
    parser.add_argument(
        "--write", action="store_true", help="write what was printed where it differs"
    )
    parser.add_argument("documents", nargs="*", type=Path, help="default: README.md and docs/*.md")
    arguments = parser.parse_args()
    documents = [path.resolve() for path in arguments.documents] or list(DOCUMENTS)
    failed = 0
    for document in documents:
        log = Path(tempfile.gettempdir()) / f"docs-{document.stem}.log"
        examples, results = run_document(document, arguments.models_dir.resolve(), log)
        for failure in report(examples, results):
            print(failure)
            failed += 1
        skipped = [example for example in examples if example.skip]
        ran = sum(len(outcomes) for outcomes in results)
        print(f"{_shown(document)}: {ran} command(s) run, {len(skipped)} block(s) skipped")
        if arguments.write:
            print(f"  rewrote {write_back(document, examples, results)} output(s)")
    return 1 if failed and not arguments.write else 0


if __name__ == "__main__":
    sys.exit(main())
