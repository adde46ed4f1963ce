"""Command line: ``python -m generator [--check] [--only NAME]``.

Exit codes: 0 written / in sync, 1 drift found by ``--check``, 2 bad spec, template error or unsafe output tree.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import GeneratorError
from .pipeline import OUTPUT, SPECS, check, generate, write

EPILOG = """exit codes:
  0  generated/ written (or, with --check, already in sync)
  1  --check found drift: the unified diff of every drifted file is printed
  2  bad spec, template error, or a file under generated/ the generator did not write
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m generator",
        description="Render the specformers model library (generated/) from specs/ and templates/.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--check", action="store_true", help="write nothing; print a diff of every drifted file, exit 1 on drift")
    parser.add_argument("--only", metavar="NAME", help="limit to one architecture spec (specs/NAME.yaml)")
    parser.add_argument(
        "--framework",
        action="append",
        choices=["common", "torch", "tf", "flax"],
        help="render only these frameworks' files (repeatable; for template development, removes nothing)",
    )
    parser.add_argument("--specs", type=Path, default=SPECS, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=OUTPUT, help=argparse.SUPPRESS)
    parser.add_argument("--timings", type=Path, help="write per-file render+format times (JSON) to this path")
    args = parser.parse_args(argv)

    try:
        result = generate(args.specs, args.only, args.framework)
        if args.timings:
            args.timings.write_text(json.dumps(result.timings, indent=2, sort_keys=True) + "\n")
        if args.check:
            diffs = check(result, args.out)
            if diffs:
                sys.stdout.write("".join(diffs))
                print(f"generator: {len(diffs)} file(s) out of date; run `make generate`", file=sys.stderr)
                return 1
            print(f"generator: {len(result.files)} files in sync", file=sys.stderr)
            return 0
        written, removed = write(result, args.out)
        print(
            f"generator: {len(result.files)} files ({len(written)} written, {len(removed)} removed) "
            f"in {result.timings['total']:.2f}s",
            file=sys.stderr,
        )
        return 0
    except GeneratorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
