"""Where things are: the repository root, whichever tier folder a test lives in."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
