"""``python -m unlearn_lib.strategies [MODALITY]``: every registered strategy as a markdown table."""

from __future__ import annotations

import sys

from ..catalogue import strategy_table
from ..report import markdown_table
from .base import MODALITIES


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    modality = args[0] if args else None
    if modality is not None and modality not in MODALITIES:
        print(f"error: modality must be one of {MODALITIES}, got {modality!r}", file=sys.stderr)
        return 2
    print(markdown_table(strategy_table(modality)), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
