"""`python -m include.telemetry show <ticket_key> [--file PATH]`: a ticket's trace as an indented timeline."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from include.telemetry.show import ticket_spans, timeline
from include.telemetry.tracing import spans_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.telemetry", description=__doc__)
    verbs = parser.add_subparsers(dest="verb", required=True)
    show = verbs.add_parser("show", help="a ticket's trace as an indented timeline")
    show.add_argument("ticket_key")
    show.add_argument("--file", type=Path, default=None, help="default: $TICKETPILOT_HOME/telemetry/spans.jsonl")
    args = parser.parse_args(argv)
    path = args.file or spans_path()
    spans = ticket_spans(path, args.ticket_key)
    print("\n".join(timeline(args.ticket_key, spans)))
    return 0 if spans else 2


if __name__ == "__main__":
    sys.exit(main())
