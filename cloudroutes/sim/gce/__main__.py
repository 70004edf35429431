"""`python -m cloudroutes.sim.gce`: run a seeded GCE emulator in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from cloudroutes.sim.gce.demo import serve_forever


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cloudroutes.sim.gce", description=__doc__)
    parser.add_argument("--nodes", type=int, default=3, help="VMs to seed (default 3, over two zones)")
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (default: any free one)")
    parser.add_argument("--project", default="demo-project")
    parser.add_argument("--op-seconds", type=float, default=0.0, help="time each operation takes to finish")
    args = parser.parse_args(argv)
    print(f"GCE emulator: project {args.project}, {args.nodes} VMs; Ctrl-C stops it.", file=sys.stderr)
    stop = threading.Event()
    # Handlers of our own, not Python's default: a background job of a non-interactive shell starts
    # with SIGINT ignored (POSIX sh runs `cmd &` so), and Python then never raises KeyboardInterrupt.
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())
    serve_forever(args.nodes, args.port, sys.stdout, project=args.project, op_seconds=args.op_seconds, stop=stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
