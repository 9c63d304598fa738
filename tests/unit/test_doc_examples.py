"""The docs test's runner: how it reads the manual's examples and compares their output."""

from __future__ import annotations

from pathlib import Path

import pytest
from doc_examples import Outcome, examples_in, matches, normalised, write_back


def test_a_documented_decimal_matches_within_tolerance_and_an_integer_exactly() -> None:
    # Written in full: a float op rounded differently, not a retrained model.
    assert matches('{"p":0.9765247702598572}', '{"p":0.9765247702591234}')
    assert not matches('{"p":0.9765247702598572}', '{"p":0.9765003323554993}')
    assert matches("max 2,122,901.5", "max 2,122,901.6")
    assert not matches("max 2,122,558.0", "max 2,122,901.5")
    # Rounded: one unit of the last digit, as rounding flips; a different precision is not it.
    assert matches("2.003x Bayes", "2.004x Bayes")
    assert not matches("2.003x Bayes", "2.005x Bayes")
    assert not matches('"attr":0.0', '"attr":0.0999')
    assert not matches('"value":7.9', '"value":7.99')
    assert not matches('"contribution":0.237', '"contribution":0.2379')
    assert matches("p 8.3e-7", "p 8.4e-7")
    assert not matches("p 8.3e-7", "p 8.3e-6")
    # Integers exactly, grouped as printed.
    assert not matches("accept 387, refer 557", "accept 391, refer 553")
    assert not matches("risk_class v1", "risk_class v2")
    assert not matches("2,509 problem(s)", "2509 problem(s)")


def test_an_ellipsis_matches_anything_but_what_it_is_between_must_be_there() -> None:
    assert matches('{"a":1,...,"z":26}', '{"a":1,"b":2,"z":26}')
    assert matches(
        '{"features":[{"name":"age"}, ...],"n":1}',
        '{"features":[{"name":"age"},{"name":"sex"}],"n":1}',
    )
    assert not matches('{"a":1,...,"z":26}', '{"a":1,"b":2}')
    assert not matches("...\nlast line", "first\nanother last line\nextra")
    assert matches("...\nerror: 6 check(s) failed", "epoch 1\nepoch 2\nerror: 6 check(s) failed")


def test_values_that_change_on_every_run_are_compared_by_shape() -> None:
    documented = (
        '{"decided_at":"2026-12-07T13:37:33.972196Z","request_id":"3a8d69003f8c6b13cb0d1b2a598d6413","hash":"'
        + "ab" * 32
        + '"}'
    )
    printed = (
        '{"decided_at":"2027-01-02T08:00:01.5Z","request_id":"0123456789abcdef0123456789abcdef","hash":"'
        + "cd" * 32
        + '"}'
    )
    assert matches(documented, printed)
    # Which values are equal is kept: a record's previous hash is the hash before it.
    first, second = "ab" * 32, "cd" * 32
    chain = f'"hash":"{first}"}},{{"previous_hash":"{first}","hash":"{second}"'
    broken = f'"hash":"{first}"}},{{"previous_hash":"{second}","hash":"{second}"'
    assert matches(chain, chain.replace("ab", "ef").replace("cd", "01"))
    assert not matches(chain, broken)
    # A request id the caller chose is not volatile, nor is the chain's first previous hash.
    assert not matches('"request_id":"app-1"', '"request_id":"app-2"')
    zero = '"previous_hash":"' + "0" * 64 + '"'
    assert normalised(zero) == zero
    assert matches("6 rows in 0.7 s, 9 rows/s", "6 rows in 0.2 s, 29 rows/s")


def test_blocks_commands_outputs_and_directives_are_read_from_markdown(tmp_path: Path) -> None:
    document = tmp_path / "doc.md"
    document.write_text(
        "Text before.\n\n"
        "<!-- docs-test: retry -->\n\n"
        "    $ curl -s localhost:8080/readyz \\\n"
        "        | jq .status\n"
        '    "ready"\n'
        "    $ echo two\n"
        "    two\n\n"
        "    line one of the output\n\n"
        "More text.\n    $ not a block: a paragraph's lazy continuation\n\n"
        "    python -m service   # a synopsis, not an example\n\n"
        "<!-- docs-test: skip the reason it cannot run -->\n\n"
        "    $ docker run image\n"
    )
    first, second = examples_in(document)
    assert first.retry and not first.skip
    assert [command.text for command in first.commands] == [
        "curl -s localhost:8080/readyz \\\n    | jq .status",
        "echo two",
    ]
    assert first.commands[0].expected == '"ready"'
    assert first.commands[1].expected == "two\n\nline one of the output"
    assert second.skip == "the reason it cannot run"


def test_a_skip_without_a_reason_or_an_unknown_setup_is_refused(tmp_path: Path) -> None:
    document = tmp_path / "doc.md"
    document.write_text("<!-- docs-test: skip -->\n\n    $ true\n")
    with pytest.raises(ValueError, match="must say why"):
        examples_in(document)
    document.write_text("<!-- docs-test: setup nothing-known -->\n\n    $ true\n")
    with pytest.raises(ValueError, match="unknown setup"):
        examples_in(document)


def test_write_back_refreshes_stale_outputs_and_keeps_abbreviations(tmp_path: Path) -> None:
    document = tmp_path / "doc.md"
    document.write_text("Intro.\n\n    $ echo one\n    old\n    $ echo two\n    {...}\n\nAfter.\n")
    (example,) = examples_in(document)
    one, two = example.commands
    outcomes = [Outcome(one, "one", matches(one.expected, "one")), Outcome(two, "{2}", True)]
    assert [outcome.stale for outcome in outcomes] == [True, False]
    assert write_back(document, [example], [outcomes]) == 1
    assert document.read_text() == (
        "Intro.\n\n    $ echo one\n    one\n    $ echo two\n    {...}\n\nAfter.\n"
    )


def test_write_back_refuses_output_that_would_read_as_a_command_or_a_wildcard(
    tmp_path: Path,
) -> None:
    document = tmp_path / "doc.md"
    document.write_text("    $ echo one\n    old\n")
    (example,) = examples_in(document)
    for printed in ("$ rm -rf /", "usage: tool [options ...]"):
        outcome = Outcome(example.commands[0], printed, False)
        with pytest.raises(ValueError, match="cannot be written"):
            write_back(document, [example], [[outcome]])
    assert document.read_text() == "    $ echo one\n    old\n"
