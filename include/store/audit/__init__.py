"""The append-only audit log: one hash chain per tenant, verified row by row and against anchors kept outside
the database. `python -m include.store.audit verify|anchor` is the operator's entry point."""

from include.store.audit.chain import LEGACY_CHAIN, PLATFORM_CHAIN, append, append_for_ticket, chain_of
from include.store.audit.digest import GENESIS
from include.store.audit.verify import Finding, Verification, verify

__all__ = ["GENESIS", "LEGACY_CHAIN", "PLATFORM_CHAIN", "Finding", "Verification", "append", "append_for_ticket",
           "chain_of", "verify"]
