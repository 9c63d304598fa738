"""How a flag (a boolean feature) is written as text, read the same wherever text is read.

JSON has its own true and false; CSV has none, so training's CSV and the batch scorer's CSV
books read one set of spellings: TRUE and FALSE (as spreadsheets save them), true and false (as
JSON and most tools write them), True and False (as pandas and Python write them). Nothing else:
not 1 and 0 (a count or a shifted column would pass unnoticed, and the service refuses 1 for a
flag too), not yes and no, not padded or mixed-case text.
"""

from __future__ import annotations

TRUE_TEXT: tuple[str, ...] = ("TRUE", "true", "True")
FALSE_TEXT: tuple[str, ...] = ("FALSE", "false", "False")
FLAG_TEXT: tuple[str, ...] = TRUE_TEXT + FALSE_TEXT
# What a refusal says: what to write, never the text given (it may be an applicant's data).
NOT_A_FLAG = "not a boolean; write TRUE or FALSE"


def read_flag(text: str) -> bool | None:
    """The flag `text` spells, or None if it spells none."""
    if text in TRUE_TEXT:
        return True
    if text in FALSE_TEXT:
        return False
    return None


def flag_text(value: bool) -> str:
    """A flag as this project writes it in text files: as a spreadsheet saves it."""
    return TRUE_TEXT[0] if value else FALSE_TEXT[0]
