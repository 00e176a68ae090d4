"""Config section ``[ci]``: the GitHub repository and workflows that may deploy (and check for
drift) this environment through OIDC (issue 13). ``make bootstrap`` reads it to create the
account's GitHub OIDC provider and this environment's two roles (``kit/github_oidc.py``)::

    [ci]
    github_repository = "your-org/pipeline-kit"       # owner/repository on github.com
    deploy_workflow = ".github/workflows/deploy.yml"   # the only workflow the deploy role trusts
    drift_workflow = ".github/workflows/drift.yml"     # the only workflow the read-only role trusts
    branch = "main"                                    # ... and only on this branch
    # github_owner_id = 1234567                        # both ids: the repository uses GitHub's
    # github_repository_id = 7654321                   # immutable subject claims (repo:owner@id/repo@id)

Only AWS environments have the section (``local`` has no CI roles). Every value ends up,
verbatim, in an IAM trust policy compared with ``StringEquals``: wildcards are refused here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from environments._fields import _check, _matches

__all__ = ["CiConfig", "cross_checks", "partition_of", "workload_boundary_arn", "workload_boundary_name"]

#: ``owner/repository``: GitHub owners are letters, digits and single hyphens (at most 39
#: characters); repository names letters, digits, ``.``, ``_`` and ``-`` (at most 100).
_REPOSITORY_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}/[A-Za-z0-9._-]{1,100}$")
_WORKFLOW_RE = re.compile(r"^\.github/workflows/[A-Za-z0-9._-]+\.ya?ml$")
#: A branch name git accepts, without the characters IAM would read as wildcards (``*``, ``?``).
_BRANCH_RE = re.compile(r"^[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*$")


def _branch_problem(value: str) -> str | None:
    if not _BRANCH_RE.match(value) or ".." in value or value.endswith((".", ".lock")) or value.startswith("-"):
        return f"must be a branch name such as main (letters, digits, '.', '_', '-', '/'; no wildcards), got {value!r}"
    return None


def _github_id(value: int) -> str | None:
    return None if value > 0 else f"must be a positive GitHub id, got {value}"


@dataclass(frozen=True)
class CiConfig:
    """``[ci]``: who may assume this environment's GitHub deploy and read-only roles."""

    #: ``owner/repository`` on github.com (shipped as a placeholder, like the account ids).
    github_repository: str = field(metadata=_matches(_REPOSITORY_RE, "owner/repository on github.com (no wildcards)"))
    #: The workflow whose jobs deploy (GitHub environments ``dev``, ``test``, ``staging``, ``prod``).
    deploy_workflow: str = field(default=".github/workflows/deploy.yml",
                                 metadata=_matches(_WORKFLOW_RE, "a workflow file such as .github/workflows/deploy.yml"))
    #: The workflow whose jobs check for drift (GitHub environments ``<env>-readonly``).
    drift_workflow: str = field(default=".github/workflows/drift.yml",
                                metadata=_matches(_WORKFLOW_RE, "a workflow file such as .github/workflows/drift.yml"))
    #: The only branch (``refs/heads/<branch>``) whose runs may assume the roles.
    branch: str = field(default="main", metadata=_check(_branch_problem, "a branch name (no wildcards)"))
    #: GitHub's numeric ids of the owner and the repository: set both when the repository uses
    #: immutable subject claims (repositories created after 2026-07-15, or opted in), whose
    #: ``sub`` reads ``repo:<owner>@<owner id>/<repo>@<repo id>:environment:<env>``.
    github_owner_id: int | None = field(default=None, metadata=_check(_github_id, "a positive integer"))
    #: GitHub's numeric id of the repository (with github_owner_id).
    github_repository_id: int | None = field(default=None, metadata=_check(_github_id, "a positive integer"))

    @property
    def owner(self) -> str:
        return self.github_repository.split("/", 1)[0]

    @property
    def repository_name(self) -> str:
        return self.github_repository.split("/", 1)[1]

    @property
    def ref(self) -> str:
        return f"refs/heads/{self.branch}"


def partition_of(region: str) -> str:
    """The AWS partition of a region (``aws``, ``aws-cn``, ``aws-us-gov``)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def workload_boundary_name(name_prefix: str) -> str:
    """The managed policy every role of the environment's stack carries as its permissions
    boundary (created by ``make bootstrap``; the GitHub deploy role may only create and change
    roles that carry it)."""
    return f"{name_prefix}-workload-boundary"


def workload_boundary_arn(*, region: str, account_id: str, name_prefix: str) -> str:
    return f"arn:{partition_of(region)}:iam::{account_id}:policy/{workload_boundary_name(name_prefix)}"


def cross_checks(section: CiConfig, *, on_emulator: bool) -> list[tuple[str, str]]:
    """``(field under ci, problem)`` for what one field alone cannot say."""
    problems: list[tuple[str, str]] = []
    if on_emulator:
        problems.append(("", "only AWS environments have a [ci] section (nothing deploys local from CI)"))
    if (section.github_owner_id is None) != (section.github_repository_id is None):
        missing = "github_owner_id" if section.github_owner_id is None else "github_repository_id"
        problems.append((missing, "set github_owner_id and github_repository_id together (immutable subject "
                                  "claims carry both), or neither"))
    if section.deploy_workflow == section.drift_workflow:
        problems.append(("drift_workflow", "must differ from deploy_workflow (the read-only role must not trust "
                                           "the workflow that deploys, nor the reverse)"))
    return problems
