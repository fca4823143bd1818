"""Command line of the data registry: ``python -m helpers.data prefetch | verify | list``.

``prefetch`` fetches every sample into the cache (for an offline classroom), ``verify`` checks
every sample in the cache or the mirror against its SHA-256 without writing anything, and
``list`` shows where each sample would come from now.
"""

from __future__ import annotations

import argparse
import sys

from ..cache_layout import cache_dir, sizes_by_subfolder
from .fetch import FIX_HINT, DataError, prefetch, status, verify
from .registry import SAMPLES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.data", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["prefetch", "verify", "list"])
    args = parser.parse_args(argv)
    if args.command == "list":
        for name, item in SAMPLES.items():
            print(f"{name:40s} {status(name):16s} {item.description}")
        return 0
    if args.command == "prefetch":
        try:
            paths = prefetch()
        except DataError as exc:
            print(f"prefetch failed: {exc}", file=sys.stderr)
            return 1
        print(f"{len(paths)} samples ready in {cache_dir()}")
        return 0
    problems = verify()
    for line in problems:
        print(f"PROBLEM: {line}")
    count = sum(len(s.files) for s in SAMPLES.values())
    print(f"verify: {len(SAMPLES)} samples, {count} files, {len(problems)} problem(s)")
    built = ", ".join(f"{name} {size / 1e6:.1f} MB" for name, size in sizes_by_subfolder().items())
    print(f"built by the project in {cache_dir()}: {built}")
    if problems:
        print(FIX_HINT)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
