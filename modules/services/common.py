"""What the optional services share: the network check, tags, and the security group of a VPC
data store."""

from __future__ import annotations

from typing import Mapping, Sequence

from cdktf_cdktf_provider_aws.security_group import SecurityGroup
from cdktf_cdktf_provider_aws.vpc_security_group_ingress_rule import VpcSecurityGroupIngressRule
from constructs import Construct

from . import NetworkRefs, ServiceContext


def tags_with(tags: Mapping[str, str] | None, **extra: str) -> dict[str, str] | None:
    """``tags`` plus ``extra``; None when both are empty (no ``tags`` argument at all)."""
    out = {**(tags or {}), **extra}
    return out or None


def require_network(ctx: ServiceContext, service: str) -> NetworkRefs:
    """The context's private network, or a ValueError naming the service."""
    if ctx.network is None:
        raise ValueError(f"{service} lives in the private subnets: it needs [network] enabled = true")
    return ctx.network


class ServiceSecurityGroup(Construct):
    """A security group (``.group``) for one data store: ingress on ``port`` (TCP) from each of
    ``client_security_group_ids`` (``.ingress``, one rule each, described) and nothing else, no
    CIDR rule. No egress rule: the stores only answer (security groups are stateful); Terraform
    removes the default allow-all egress rule AWS adds to a new group. ``rule_descriptions=False``
    is for the emulator only: it drops rule descriptions (a perpetual diff)."""

    group: SecurityGroup
    ingress: list[VpcSecurityGroupIngressRule]

    def __init__(self, scope: Construct, id: str, *, name: str, description: str, vpc_id: str, port: int,
                 client_security_group_ids: Sequence[str], tags: Mapping[str, str] | None = None,
                 rule_descriptions: bool = True) -> None:
        super().__init__(scope, id)
        if not client_security_group_ids:
            raise ValueError(f"{name}: client_security_group_ids must name at least one security group")
        if not 1 <= port <= 65535:
            raise ValueError(f"{name}: port must be between 1 and 65535, got {port}")
        self.group = SecurityGroup(self, "group", name=name, description=description, vpc_id=vpc_id,
                                   revoke_rules_on_delete=True, tags=tags_with(tags, Name=name))
        self.ingress = [
            VpcSecurityGroupIngressRule(
                self, f"ingress-{i}",
                security_group_id=self.group.id,
                referenced_security_group_id=client,
                ip_protocol="tcp", from_port=port, to_port=port,
                description=f"{name}: TCP {port} from a client security group" if rule_descriptions else None,
                tags=tags_with(tags),
            )
            for i, client in enumerate(client_security_group_ids)
        ]
