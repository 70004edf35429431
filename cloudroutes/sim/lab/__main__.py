"""`python -m cloudroutes.sim.lab up|verify|down`: the lab without the product's CLI (for debugging).

The product's `cloudroutes lab ...` commands call the same functions.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from cloudroutes.sim import lab


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cloudroutes.sim.lab")
    parser.add_argument("command", choices=("up", "verify", "down"))
    parser.add_argument("--state-dir", type=Path, default=lab.DEFAULT_STATE_DIR)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--provider", choices=("aws", "gce"), default="aws")
    parser.add_argument("--kubernetes", choices=("", "publish", "adopt"), default="")
    parser.add_argument("--output", choices=("text", "json"), default="text")
    parser.add_argument("--settle", type=lab.parse_seconds, default=lab.DEFAULT_SETTLE_S, help="verify: wait bound")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            print(
                lab.up(
                    nodes=args.nodes, state_dir=args.state_dir, provider=args.provider, kubernetes=args.kubernetes
                ).exports()
            )
        elif args.command == "down":
            for item in lab.down(args.state_dir):
                print(f"removed {item}", file=sys.stderr)
        else:
            matrix = lab.verify(args.state_dir, settle_s=args.settle)
            print(json.dumps(matrix.to_json(), indent=2) if args.output == "json" else matrix.to_text())
            return matrix.exit_code
    except lab.LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
