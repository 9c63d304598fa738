"""The feature declaration file: the default one, and every way a file can be wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract.features import Feature
from training.declaration import (
    DEFAULT_DECLARATION,
    Declaration,
    DeclarationError,
    load_declaration,
)
from training.features import BMI_RISK_FROM, FEATURES, PROHIBITED

VALID = """
[[features]]
name = "age"
type = "integer"
unit = "years"
minimum = 18
maximum = 85
description = "Age at last birthday."
role = "demographic"

[[features]]
name = "tobacco_use"
type = "category"
categories = ["never", "current"]
description = "Tobacco use."
role = "behavioural"

[features.category_labels]
never = "Never"
current = "Current user"

[features.risk]
worse = "later"
order = ["never", "current"]
reason = "Tobacco use"

[prohibited]
protected = ["race"]
identifiers = ["name"]
"""


def _load(tmp_path: Path, text: str) -> Declaration:
    path = tmp_path / "declaration.toml"
    path.write_text(text)
    return load_declaration(path)


def test_the_default_declaration_is_what_training_and_metadata_use() -> None:
    declaration = load_declaration(DEFAULT_DECLARATION)
    assert declaration.features == FEATURES and declaration.prohibited == PROHIBITED
    assert len({f.name for f in FEATURES}) == len(FEATURES) >= 20
    # Every entry survives the metadata.json form the service reads.
    assert all(Feature.from_json(f.to_json()) == f for f in FEATURES)
    build = [f.risk.where for f in FEATURES if f.risk is not None and f.risk.where is not None]
    assert build and all(where == ("bmi", BMI_RISK_FROM) for where in build)
    assert PROHIBITED.kind("race") == "protected attribute"
    assert PROHIBITED.kind("zip_code") == "identifier"


def test_a_valid_file_loads_in_its_order(tmp_path: Path) -> None:
    declaration = _load(tmp_path, VALID)
    assert [f.name for f in declaration.features] == ["age", "tobacco_use"]
    tobacco = declaration.features[1]
    assert tobacco.label("current") == "Current user"
    assert tobacco.risk is not None and tobacco.risk.order == ("never", "current")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("minimum = 18", "minmum = 18"), "features[0] ('age'): unknown key 'minmum'"),
        (('role = "demographic"', ""), "features[0] ('age'): missing role"),
        (("maximum = 85", "maximum = 18"), "features[0] ('age'): minimum must be below maximum"),
        (("minimum = 18", "minimum = 18.5"), "an integer's minimum and maximum are whole numbers"),
        (("maximum = 85\n", ""), "features[0] ('age'): a number needs its minimum and maximum"),
        (('name = "tobacco_use"', 'name = "age"'), "features[1] repeats the name 'age'"),
        (('reason = "Tobacco use"', 'reson = "Tobacco use"'), "risk: unknown key 'reson'"),
        (('current = "Current user"', ""), "category_labels give each category its own words"),
        (('order = ["never", "current"]', 'order = ["never"]'), "risk order must list every"),
        (
            ('type = "integer"', 'type = "int"'),
            "features[0] ('age'): feature 'age' has unknown type",
        ),
        (('name = "tobacco_use"', 'name = "race"'), "feature 'race' is listed as a protected"),
        (("[prohibited]", "[prohibited]\nethnic = []"), "[prohibited]: unknown key 'ethnic'"),
        (('unit = "years"', "unit = 1"), "features[0] ('age'): unit must be text"),
        (("[[features]]", "[[feature]]"), "unknown key 'feature'"),
        (("minimum = 18", "minimum = = 18"), "not valid TOML"),
    ],
)
def test_a_wrong_file_is_refused_naming_the_entry_and_key(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    old, new = change
    assert old in VALID
    with pytest.raises(DeclarationError) as refused:
        _load(tmp_path, VALID.replace(old, new, 1))
    assert message in str(refused.value)
    assert str(tmp_path / "declaration.toml") in str(refused.value)


def test_a_missing_file_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(DeclarationError, match="cannot be read"):
        load_declaration(tmp_path / "nowhere.toml")
