"""python -m benchmarks [all | tick]"""

from __future__ import annotations

import sys

from benchmarks import tick


def main(argv: list[str]) -> int:
    which = argv[1] if len(argv) > 1 else "all"
    if which in ("all", "tick"):
        tick.main()
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
