"""Every IAM role of a stack carries one permissions boundary (issue 13).

The GitHub deploy role (``kit/github_oidc.py``) may create and change a role only when the role
carries the environment's workload boundary (an ``iam:PermissionsBoundary`` condition): whatever
policy the deploy attaches, the role can never do more than the boundary allows, so the deploy
role cannot hand itself, through a role it creates, more than it holds. The boundary is applied
here, once, to every ``aws_iam_role`` the stack holds (present and future constructs alike),
rather than by each construct.
"""

from __future__ import annotations

import jsii
from cdktf import Aspects, IAspect
from cdktf_cdktf_provider_aws.iam_role import IamRole
from constructs import Construct, IConstruct

__all__ = ["RolePermissionsBoundary", "bound_every_role"]


@jsii.implements(IAspect)
class RolePermissionsBoundary:
    """A cdktf aspect: sets ``permissions_boundary`` on every ``IamRole`` below the scope."""

    def __init__(self, policy_arn: str) -> None:
        self.policy_arn = policy_arn

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, IamRole):
            node.permissions_boundary = self.policy_arn


def bound_every_role(scope: Construct, *, policy_arn: str) -> None:
    Aspects.of(scope).add(RolePermissionsBoundary(policy_arn))
