"""The environment's private network: a VPC with private subnets only, the VPC endpoints private
workloads reach AWS through, least-access security groups and flow logs.

There is no internet gateway and no NAT: nothing in these subnets can reach the internet or be
reached from it. The plug-in functions (in every environment with the network) and the Batch
jobs run here. AWS services are reached through
* **gateway endpoints** for S3 and DynamoDB (free; routes in the private route table). The S3
  endpoint's policy admits buckets of this account only, plus the AWS-owned bucket ECR serves image
  layers from (``prod-<region>-starport-layer-bucket``); the DynamoDB endpoint's admits this
  account's principals on this account's tables in the region only — so a compromised function or
  job cannot copy data to another account's bucket or table through them;
* **interface endpoints** (private DNS) for the APIs the workloads call: ECR (image pulls), Logs,
  SQS, SSM, KMS, STS for the Batch jobs (``DEFAULT_INTERFACE_SERVICES``), plus what the stack adds
  for what the plug-ins call from their functions (SNS, Athena, Batch: see
  ``modules.functions.interface_services_for``) and for the optional services (Glue, Secrets
  Manager). Each costs about 0.01 USD per AZ-hour (about 7.3 USD a month per AZ) plus 0.01 USD per
  GB. Every interface endpoint has a policy admitting only this account's principals acting on this
  account's resources (``interface_endpoint_policy``, the pattern of AWS's data-perimeter
  examples), with the few exceptions the workloads need written out.

Security groups:
* ``workloads``: the pipeline's own private compute (the plug-in functions and the Batch jobs).
  No ingress; egress HTTPS to the endpoints and to the S3/DynamoDB prefix lists only.
* ``data-clients``: what an operator attaches to anything that should reach the optional data
  stores (each store admits its port from these two groups only). No ingress; egress HTTPS to the
  endpoints, and TCP inside the VPC (the stores' own groups do the narrowing).
* ``endpoints``: the interface endpoints admit HTTPS from the two groups above only.
* The VPC's default security group is taken over and left without rules (CIS AWS 5.4).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Mapping, Sequence

from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.default_security_group import DefaultSecurityGroup
from cdktf_cdktf_provider_aws.flow_log import FlowLog
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.route_table import RouteTable
from cdktf_cdktf_provider_aws.route_table_association import RouteTableAssociation
from cdktf_cdktf_provider_aws.security_group import SecurityGroup
from cdktf_cdktf_provider_aws.subnet import Subnet
from cdktf_cdktf_provider_aws.vpc import Vpc
from cdktf_cdktf_provider_aws.vpc_endpoint import VpcEndpoint
from cdktf_cdktf_provider_aws.vpc_security_group_egress_rule import VpcSecurityGroupEgressRule
from cdktf_cdktf_provider_aws.vpc_security_group_ingress_rule import VpcSecurityGroupIngressRule
from constructs import Construct

from .policy import Statement, policy_json

#: Interface endpoints a private Batch job needs: image pulls (ecr.api, ecr.dkr; layers come
#: through the S3 gateway), its logs, the next stage's queue, the tokenisation-key parameter, the
#: environment key, and STS for the task role's credentials.
DEFAULT_INTERFACE_SERVICES = ("ecr.api", "ecr.dkr", "logs", "sqs", "ssm", "kms", "sts")
GATEWAY_SERVICES = ("s3", "dynamodb")
HTTPS = 443

#: Actions that act on no resource (so no resource account) that a workload calls through an
#: interface endpoint: admitted for this account's principals alone. ``ecr:GetAuthorizationToken``
#: is the registry login of an image pull; ``sts:GetCallerIdentity`` is the SDKs' identity check.
PRINCIPAL_ONLY_ACTIONS: Mapping[str, tuple[str, ...]] = {
    "ecr.api": ("ecr:GetAuthorizationToken",),
    "sts": ("sts:GetCallerIdentity",),
}
#: What the workloads do with DynamoDB through the gateway endpoint: item reads and writes,
#: queries, conditional checks, and the table description the SDKs read.
DYNAMODB_ENDPOINT_ACTIONS = (
    "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem",
    "dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:Scan",
    "dynamodb:UpdateItem",
)


def private_subnet_cidrs(vpc_cidr: str, count: int) -> list[str]:
    """``count`` equal private subnets carved from ``vpc_cidr`` (the first ``count`` of its
    quarters, or eighths beyond four): stable, so adding a zone never renumbers the others."""
    net = ipaddress.IPv4Network(vpc_cidr, strict=True)
    if not 2 <= count <= 8:
        raise ValueError(f"a private network needs between 2 and 8 subnets, got {count}")
    extra_bits = 2 if count <= 4 else 3
    if net.prefixlen + extra_bits > 28:
        raise ValueError(f"{vpc_cidr} is too small for {count} subnets (each would be smaller than /28)")
    return [str(s) for s in list(net.subnets(prefixlen_diff=extra_bits))[:count]]


def default_zone_names(region: str, count: int) -> list[str]:
    """``<region>a``, ``<region>b``, ...: the first ``count`` zones by name, as most regions and
    accounts have them (set ``[network] zones`` where an account's names differ)."""
    if not 1 <= count <= 6:
        raise ValueError(f"between 1 and 6 availability zones, got {count}")
    return [f"{region}{letter}" for letter in "abcdef"[:count]]


@dataclass(frozen=True)
class FlowLogSettings:
    retention_days: int
    #: ACCEPT, REJECT or ALL.
    traffic_type: str = "REJECT"


class PrivateNetwork(Construct):
    """A VPC (``.vpc``) with ``availability_zones`` private subnets (``.subnets``), one private route
    table (``.route_table``) holding the gateway endpoints' routes, interface endpoints
    (``.interface_endpoints[service]``), the security groups ``.workloads``, ``.data_clients`` and
    ``.endpoints_sg`` (see the module notes), and flow logs (``.flow_log``) into an encrypted log
    group (``.flow_log_group``).

    ``account_id`` narrows every endpoint's policy to this account (see the module notes);
    ``trusted_resources`` adds, per interface service, ARNs of another account a workload must
    still reach through it (a DMS source secret shared from another account, say).
    ``rule_descriptions=False`` leaves the security group rules undescribed: the emulator drops
    their descriptions, which would be a perpetual diff.
    ``zone_names`` pins the subnets' zones by name (default ``default_zone_names``): a closed set,
    so that neither a new zone nor one AWS reports unavailable for a while ever moves a subnet.
    """

    vpc: Vpc
    subnets: list[Subnet]
    route_table: RouteTable
    gateway_endpoints: dict[str, VpcEndpoint]
    interface_endpoints: dict[str, VpcEndpoint]
    workloads: SecurityGroup
    data_clients: SecurityGroup
    endpoints_sg: SecurityGroup
    flow_log: FlowLog
    flow_log_group: CloudwatchLogGroup

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        cidr: str,
        availability_zones: int,
        region: str,
        account_id: str,
        kms_key_arn: str,
        flow_logs: FlowLogSettings,
        interface_services: Sequence[str] = DEFAULT_INTERFACE_SERVICES,
        trusted_resources: Mapping[str, Sequence[str]] | None = None,
        zone_names: Sequence[str] | None = None,
        tags: Mapping[str, str] | None = None,
        rule_descriptions: bool = True,
        partition: str = "aws",
    ) -> None:
        super().__init__(scope, id)
        if flow_logs.traffic_type not in ("ACCEPT", "REJECT", "ALL"):
            raise ValueError(f"flow log traffic type must be ACCEPT, REJECT or ALL, got {flow_logs.traffic_type!r}")
        cidrs = private_subnet_cidrs(cidr, availability_zones)
        zones = list(zone_names) if zone_names else default_zone_names(region, availability_zones)
        if len(zones) != availability_zones or len(set(zones)) != len(zones):
            raise ValueError(f"network {name}: needs {availability_zones} distinct zone names, got {zones}")
        services = list(dict.fromkeys(interface_services))
        trusted = {k: list(v) for k, v in (trusted_resources or {}).items() if v}
        unknown = sorted(set(trusted) - set(services))
        if unknown:
            raise ValueError(f"trusted_resources names {', '.join(unknown)}, which has no interface endpoint here")
        base_tags = dict(tags or {})

        def named(suffix: str) -> dict[str, str]:
            return {**base_tags, "Name": f"{name}-{suffix}"}

        self.cidr = cidr
        self.vpc = Vpc(self, "vpc", cidr_block=cidr, enable_dns_support=True, enable_dns_hostnames=True,
                       tags=named("vpc"))
        # Take the default security group over and leave it empty: nothing can use it by accident.
        self.default_sg = DefaultSecurityGroup(self, "default-sg", vpc_id=self.vpc.id, tags=named("default-unused"))
        self.route_table = RouteTable(self, "private-routes", vpc_id=self.vpc.id, tags=named("private"))
        self.subnets = []
        for i, block in enumerate(cidrs):
            subnet = Subnet(self, f"private-{i}", vpc_id=self.vpc.id, cidr_block=block,
                            availability_zone=zones[i], map_public_ip_on_launch=False,
                            tags=named(f"private-{i}"))
            RouteTableAssociation(self, f"private-{i}-routes", subnet_id=subnet.id, route_table_id=self.route_table.id)
            self.subnets.append(subnet)

        # -- security groups ---------------------------------------------------------------
        def describe(text: str) -> str | None:
            return text if rule_descriptions else None

        def group(gid: str, description: str) -> SecurityGroup:
            return SecurityGroup(self, gid, name=f"{name}-{gid}", description=description, vpc_id=self.vpc.id,
                                 revoke_rules_on_delete=True, tags=named(gid))

        # Plug-in functions and Batch jobs. (The description predates the functions joining the
        # group; a changed description would replace the group under the running compute.)
        self.workloads = group("workloads", "Private pipeline workloads (Batch jobs): no ingress, HTTPS to AWS endpoints")
        self.data_clients = group("data-clients", "Attach to clients of the optional data stores: no ingress")
        self.endpoints_sg = group("endpoints", "Interface endpoints: HTTPS from the workload and data-client groups")
        for client in (self.workloads, self.data_clients):
            cid = client.node.id
            VpcSecurityGroupIngressRule(self, f"endpoints-from-{cid}", security_group_id=self.endpoints_sg.id,
                                        referenced_security_group_id=client.id, ip_protocol="tcp",
                                        from_port=HTTPS, to_port=HTTPS, description=describe(f"HTTPS from {cid}"))
            VpcSecurityGroupEgressRule(self, f"{cid}-to-endpoints", security_group_id=client.id,
                                       referenced_security_group_id=self.endpoints_sg.id, ip_protocol="tcp",
                                       from_port=HTTPS, to_port=HTTPS, description=describe("HTTPS to the interface endpoints"))
        VpcSecurityGroupEgressRule(self, "data-clients-in-vpc", security_group_id=self.data_clients.id,
                                   cidr_ipv4=cidr, ip_protocol="tcp", from_port=0, to_port=65535,
                                   description=describe("TCP inside the VPC (each data store admits its own port only)"))

        # -- endpoints -----------------------------------------------------------------------
        self.gateway_endpoints = {}
        for service in GATEWAY_SERVICES:
            policy = (s3_endpoint_policy(region=region, account_id=account_id, partition=partition) if service == "s3"
                      else dynamodb_endpoint_policy(region=region, account_id=account_id, partition=partition))
            ep = VpcEndpoint(self, f"gateway-{service}", vpc_id=self.vpc.id, vpc_endpoint_type="Gateway",
                             service_name=f"com.amazonaws.{region}.{service}", route_table_ids=[self.route_table.id],
                             policy=policy, tags=named(f"{service}-gateway"))
            self.gateway_endpoints[service] = ep
            VpcSecurityGroupEgressRule(self, f"workloads-to-{service}", security_group_id=self.workloads.id,
                                       prefix_list_id=ep.prefix_list_id, ip_protocol="tcp", from_port=HTTPS,
                                       to_port=HTTPS, description=describe(f"HTTPS to {service} through its gateway endpoint"))
        self.interface_endpoints = {}
        for service in services:
            sid = service.replace(".", "-")
            self.interface_endpoints[service] = VpcEndpoint(
                self, f"interface-{sid}", vpc_id=self.vpc.id, vpc_endpoint_type="Interface",
                service_name=f"com.amazonaws.{region}.{service}", private_dns_enabled=True,
                subnet_ids=[s.id for s in self.subnets], security_group_ids=[self.endpoints_sg.id],
                policy=interface_endpoint_policy(service=service, account_id=account_id,
                                                 trusted_resources=trusted.get(service, ())),
                tags=named(f"{sid}-endpoint"))

        # -- flow logs -----------------------------------------------------------------------
        self.flow_log_group = CloudwatchLogGroup(self, "flow-log-group", name=f"/aws/vpc/{name}/flow-logs",
                                                 retention_in_days=flow_logs.retention_days, kms_key_id=kms_key_arn)
        role = IamRole(
            self, "flow-log-role", name=f"{name}-flow-logs",
            assume_role_policy=policy_json([Statement(
                sid="VpcFlowLogsAssumeRole", effect="Allow", principals={"Service": "vpc-flow-logs.amazonaws.com"},
                actions=["sts:AssumeRole"], conditions={"StringEquals": {"aws:SourceAccount": account_id}})]),
        )
        IamRolePolicy(self, "flow-log-policy", role=role.id, name="write-flow-logs", policy=policy_json([
            Statement(sid="WriteFlowLogs", effect="Allow",
                      actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                      resources=[self.flow_log_group.arn, f"{self.flow_log_group.arn}:log-stream:*"]),
        ]))
        self.flow_log = FlowLog(self, "flow-log", vpc_id=self.vpc.id, traffic_type=flow_logs.traffic_type,
                                log_destination_type="cloud-watch-logs", log_destination=self.flow_log_group.arn,
                                iam_role_arn=role.arn, max_aggregation_interval=600, tags=named("flow-log"))

    @property
    def private_subnet_ids(self) -> list[str]:
        return [s.id for s in self.subnets]

    @property
    def client_security_group_ids(self) -> list[str]:
        return [self.workloads.id, self.data_clients.id]


def s3_endpoint_policy(*, region: str, account_id: str, partition: str = "aws") -> str:
    """The S3 gateway endpoint admits this account's buckets and ECR's layer bucket only."""
    return policy_json([
        Statement(sid="OwnAccountBuckets", effect="Allow", principals="*",
                  actions=["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:AbortMultipartUpload",
                           "s3:DeleteObject", "s3:ListBucket", "s3:GetBucketLocation"],
                  # Endpoint policies name buckets by condition: "*" is narrowed to this account.
                  resources=["*"],
                  conditions={"StringEquals": {"s3:ResourceAccount": account_id}}),
        Statement(sid="EcrImageLayers", effect="Allow", principals="*", actions=["s3:GetObject"],
                  resources=[f"arn:{partition}:s3:::prod-{region}-starport-layer-bucket/*"]),
    ])


def dynamodb_endpoint_policy(*, region: str, account_id: str, partition: str = "aws") -> str:
    """The DynamoDB gateway endpoint admits this account's principals working on this account's
    tables (and their indexes) in ``region`` only."""
    return policy_json([
        Statement(sid="OwnAccountTables", effect="Allow", principals="*", actions=list(DYNAMODB_ENDPOINT_ACTIONS),
                  resources=[f"arn:{partition}:dynamodb:{region}:{account_id}:table/*"],
                  conditions={"StringEquals": {"aws:PrincipalAccount": account_id}}),
    ])


def interface_endpoint_policy(*, service: str, account_id: str, trusted_resources: Sequence[str] = ()) -> str:
    """An interface endpoint admits this account's principals acting on this account's resources
    (``aws:PrincipalAccount`` and ``aws:ResourceAccount``), the service's resource-less actions
    the workloads call (``PRINCIPAL_ONLY_ACTIONS``) for this account's principals, and
    ``trusted_resources`` (named ARNs of another account) for this account's principals."""
    statements = [
        # "*" is narrowed by the conditions: who calls, and whose resource it is.
        Statement(sid="OwnAccountPrincipalsOwnAccountResources", effect="Allow", principals="*", actions=["*"],
                  resources=["*"], conditions={"StringEquals": {"aws:PrincipalAccount": account_id,
                                                                "aws:ResourceAccount": account_id}}),
    ]
    if service in PRINCIPAL_ONLY_ACTIONS:
        statements.append(Statement(sid="OwnAccountPrincipalsResourcelessActions", effect="Allow", principals="*",
                                    actions=list(PRINCIPAL_ONLY_ACTIONS[service]), resources=["*"],
                                    conditions={"StringEquals": {"aws:PrincipalAccount": account_id}}))
    if trusted_resources:
        statements.append(Statement(sid="OwnAccountPrincipalsTrustedResources", effect="Allow", principals="*",
                                    actions=["*"], resources=list(trusted_resources),
                                    conditions={"StringEquals": {"aws:PrincipalAccount": account_id}}))
    return policy_json(statements)
