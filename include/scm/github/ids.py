"""Pull request ids for the ScmAdapter contract. Its PR methods take only an int, but GitHub numbers pull
requests per repository, and REST offers no lookup by a PR's global id. So the adapter's id packs the
repository's id (stable across renames and transfers; `GET /repositories/{id}` resolves it) with the PR
number: `repository_id * 1_000_000 + number`, readable in decimal and below 2**53 for repository ids under
nine billion, so JSON consumers in JavaScript (the Airflow UI) read it exactly."""

from __future__ import annotations

from include.scm.base import ScmError

NUMBER_SPACE = 1_000_000


def pack_pr_id(repository_id: int, number: int) -> int:
    if not 0 < number < NUMBER_SPACE:
        raise ScmError(f"PR number {number} of repository {repository_id} does not fit the adapter's PR id "
                       f"(numbers below {NUMBER_SPACE:,})")
    return repository_id * NUMBER_SPACE + number


def unpack_pr_id(pr_id: int) -> tuple[int, int]:
    """(repository id, PR number) of an id made by pack_pr_id."""
    repository_id, number = divmod(pr_id, NUMBER_SPACE)
    if repository_id <= 0 or number <= 0:
        raise ScmError(f"{pr_id} is not a PR id of the GitHub adapter (repository id × {NUMBER_SPACE:,} + PR number)")
    return repository_id, number
