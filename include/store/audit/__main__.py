"""`python -m include.store.audit verify [--tenant T] [--anchors URL]` and `anchor [--anchors URL]`.

verify exits 1 when it finds an altered, inserted or deleted row, printing each chain's first finding by row id.
"""

from __future__ import annotations

import argparse
import sys

from include.store.audit.anchors import latest_anchors, write_anchors
from include.store.audit.verify import verify
from include.store.db import connect


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.store.audit", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("verify", help="walk the chains and compare each with its newest anchor")
    check.add_argument("--tenant", help="only this tenant's chain")
    check.add_argument("--anchors", help="where the anchors are (default: $TICKETPILOT_AUDIT_ANCHORS)")
    anchor = commands.add_parser("anchor", help="write each chain's head as an anchor outside the database")
    anchor.add_argument("--anchors", help="where to write them (default: $TICKETPILOT_AUDIT_ANCHORS)")
    args = parser.parse_args(argv)
    with connect() as conn:
        if args.command == "anchor":
            written = write_anchors(conn, args.anchors)
            for a in written:
                print(f"anchored {a.chain} at seq {a.seq} (row id {a.row_id}) {a.hash[:16]}")
            print(f"{len(written)} new anchor(s)")
            return 0
        result = verify(conn, args.tenant, latest_anchors(args.anchors))
    for chain, rows in result.rows.items():
        print(f"{chain}: {rows} row(s)")
    for finding in result.findings:
        print(f"FOUND {finding}")
    print("audit log verified" if result.ok else f"{len(result.findings)} chain(s) tampered with")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
