"""Command line: python -m fusedact info | bench | plot."""

import argparse
import json
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fusedact", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="print how fusedact was built (build_info) as JSON")
    args = parser.parse_args(argv)

    import fusedact

    if args.command == "info":
        json.dump(fusedact.build_info(), sys.stdout, indent=2)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
