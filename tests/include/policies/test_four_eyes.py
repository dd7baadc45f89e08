"""Who counts as the requester: names, e-mails and usernames that are one person."""

from __future__ import annotations

import pytest

from include.policies.four_eyes import identities, requester_refusal


def test_identities_of_an_ado_identity() -> None:
    assert identities("Jane Doe <Jane.Doe@corp.example>") == {"jane doe", "jane.doe@corp.example", "jane.doe"}
    assert identities("octocat") == {"octocat"}
    assert identities("alice", "Alice@corp.example") == {"alice", "alice@corp.example"}
    assert identities("  ") == set()


@pytest.mark.parametrize(("approver", "email", "refused"), [
    ("Jane Doe", None, True),
    ("jane.doe", None, True),
    ("jdoe", "jane.doe@corp.example", True),   # the directory's e-mail links them
    ("jdoe", None, False),
    ("jane", None, False),                     # a prefix is not a match
    ("bob", "bob@corp.example", False),
])
def test_the_requester_is_refused_under_any_of_their_names(approver: str, email: str | None, refused: bool) -> None:
    reason = requester_refusal(approver, "Jane Doe <jane.doe@corp.example>", email)
    assert (reason is not None) is refused
    if refused:
        assert reason.startswith(f"four eyes: {approver} requested this ticket")


def test_a_ticket_without_a_requester_has_no_one_to_refuse() -> None:
    assert requester_refusal("alice", "") is None
