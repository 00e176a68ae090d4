"""Search (issue 7): an Amazon OpenSearch Service domain inside the environment's VPC.

Security properties: VPC access only (private subnets, a security group admitting HTTPS from the
client security groups only), encryption at rest with the environment's key and node-to-node
encryption, HTTPS only with a TLS 1.2+ (perfect forward secrecy) policy, fine-grained access
control whose master is an **IAM role** (no internal user database, so no master password
anywhere), and a domain access policy that admits only the master role and the named client
roles (never ``Principal: *``). Index slow, search slow, application (error) and audit logs go
to log groups encrypted with the key, which OpenSearch may write to through a CloudWatch Logs
resource policy limited to this domain (``aws:SourceArn``) and account.

The master role: by default the construct creates ``<name>-admin``, which only the roles named in
``admin_principal_arns`` may assume (at least one is required: the role never trusts the account
root, which would let any principal of the account whose IAM policy allows ``sts:AssumeRole``
become the domain's master), and maps it to ``all_access`` through fine-grained access control;
an existing role can be named with ``master_role_arn`` instead.

A VPC domain needs the service-linked role ``AWSServiceRoleForAmazonOpenSearchService`` in the
account (AWS creates it with the first VPC domain made in the console; with Terraform create it
once per account: ``aws iam create-service-linked-role --aws-service-name opensearchservice.amazonaws.com``).
"""

from __future__ import annotations

import re
from typing import Mapping, Sequence

from cdktf import TerraformOutput
from cdktf_cdktf_provider_aws.cloudwatch_log_resource_policy import CloudwatchLogResourcePolicy
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.opensearch_domain import (
    OpensearchDomain,
    OpensearchDomainAdvancedSecurityOptions,
    OpensearchDomainAdvancedSecurityOptionsMasterUserOptions,
    OpensearchDomainClusterConfig,
    OpensearchDomainClusterConfigZoneAwarenessConfig,
    OpensearchDomainDomainEndpointOptions,
    OpensearchDomainEbsOptions,
    OpensearchDomainEncryptAtRest,
    OpensearchDomainLogPublishingOptions,
    OpensearchDomainNodeToNodeEncryption,
    OpensearchDomainTimeouts,
    OpensearchDomainVpcOptions,
)
from constructs import Construct

from environments.sections.stores import OpenSearchConfig, opensearch_zone_count

from ..lifecycle import destroy_guard
from ..logs import LogGroup
from ..policy import Statement, policy_json
from . import ServiceContext
from .common import ServiceSecurityGroup, require_network, tags_with

HTTPS_PORT = 443
#: The strictest policy the provider offers: TLS 1.2+ with perfect-forward-secrecy ciphers.
TLS_SECURITY_POLICY = "Policy-Min-TLS-1-2-PFS-2023-10"
#: OpenSearch log type → log group suffix.
LOG_TYPES = {
    "INDEX_SLOW_LOGS": "index-slow",
    "SEARCH_SLOW_LOGS": "search-slow",
    "ES_APPLICATION_LOGS": "application",
    "AUDIT_LOGS": "audit",
}
#: The domain access policy's actions: every HTTP verb of the OpenSearch API.
HTTP_ACTIONS = tuple(f"es:ESHttp{verb}" for verb in ("Get", "Head", "Post", "Put", "Patch", "Delete"))
#: What the emulator can wait for (it never finishes "processing"): see EMULATOR.md.
SHORT_TIMEOUT = "20s"

_DOMAIN_RE = re.compile(r"^[a-z][a-z0-9-]{2,27}$")


class OpenSearchDomain(Construct):
    """An OpenSearch domain (``.domain``) named ``name`` (3-28 characters) with the security
    properties of the module's notes.

    Sizing: ``instance_count`` data nodes of ``instance_type``, each with a gp3 EBS volume of
    ``volume_size_gb``. With two or more nodes the domain is zone-aware over 2 availability zones
    (3 when the count is a multiple of 3 and ``subnet_ids`` holds three subnets), and the count
    must be a multiple of the zones; the first subnets are used, one per zone.

    Exposes ``.security_group``, ``.master_role`` (None when ``master_role_arn`` is given),
    ``.master_role_arn``, ``.log_groups`` (by log type), ``.log_policy`` (the CloudWatch Logs
    resource policy), ``.access_policy`` (the domain access policy document, JSON).

    ``audit_log=False`` leaves out the audit log. ``short_timeouts`` sets 20 s create/update/delete
    timeouts (the emulator never ends a domain's processing state; on AWS a domain takes 15-30 min,
    keep it off). ``rule_descriptions=False`` leaves out the security group rules' descriptions (the
    emulator drops them: a perpetual diff). ``prevent_destroy`` guards the domain; OpenSearch has no
    deletion protection.
    """

    domain: OpensearchDomain
    security_group: ServiceSecurityGroup
    master_role: IamRole | None
    master_role_arn: str
    log_groups: dict[str, LogGroup]
    log_policy: CloudwatchLogResourcePolicy
    access_policy: str

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        kms_key_arn: str,
        region: str,
        account_id: str,
        vpc_id: str,
        subnet_ids: Sequence[str],
        client_security_group_ids: Sequence[str],
        engine_version: str = "OpenSearch_2.17",
        instance_type: str = "t3.small.search",
        instance_count: int = 1,
        volume_size_gb: int = 10,
        dedicated_master_count: int = 0,
        dedicated_master_type: str = "m6g.large.search",
        master_role_arn: str | None = None,
        admin_principal_arns: Sequence[str] = (),
        client_role_arns: Sequence[str] = (),
        log_retention_days: int = 30,
        audit_log: bool = True,
        short_timeouts: bool = False,
        rule_descriptions: bool = True,
        prevent_destroy: bool = False,
        partition: str = "aws",
        tags: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(scope, id)
        zones = self._check(name, subnet_ids, instance_count, volume_size_gb, master_role_arn, admin_principal_arns)
        if dedicated_master_count not in (0, 3, 5):
            raise ValueError(f"OpenSearch {name}: dedicated_master_count must be 0, 3 or 5, got {dedicated_master_count}")
        domain_arn = f"arn:{partition}:es:{region}:{account_id}:domain/{name}"

        self.security_group = ServiceSecurityGroup(
            self, "security-group", name=f"{name}-opensearch", description=f"{name}: OpenSearch (HTTPS)",
            vpc_id=vpc_id, port=HTTPS_PORT, client_security_group_ids=client_security_group_ids, tags=tags,
            rule_descriptions=rule_descriptions)

        self.master_role = None
        if master_role_arn:
            self.master_role_arn = master_role_arn
        else:
            trusted = list(admin_principal_arns)
            self.master_role = IamRole(
                self, "master-role",
                name=f"{name}-admin",
                description=f"{name}: OpenSearch fine-grained access control master (assumed by operators)",
                assume_role_policy=policy_json([Statement(
                    sid="OperatorsAssume", effect="Allow", principals={"AWS": trusted},
                    actions=["sts:AssumeRole"])]),
                max_session_duration=3600,
                tags=tags_with(tags),
            )
            self.master_role_arn = self.master_role.arn

        log_types = {k: v for k, v in LOG_TYPES.items() if audit_log or k != "AUDIT_LOGS"}
        self.log_groups = {
            log_type: LogGroup(self, f"log-{suffix}", name=f"/aws/opensearch/{name}/{suffix}",
                               retention_days=log_retention_days, kms_key_arn=kms_key_arn)
            for log_type, suffix in log_types.items()
        }
        self.log_policy = CloudwatchLogResourcePolicy(
            self, "log-policy",
            policy_name=f"{name}-opensearch-logs",
            policy_document=policy_json([Statement(
                sid="OpenSearchWritesItsLogs", effect="Allow", principals={"Service": "es.amazonaws.com"},
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[f"{g.log_group.arn}:*" for g in self.log_groups.values()],
                conditions={"StringEquals": {"aws:SourceAccount": account_id},
                            "ArnLike": {"aws:SourceArn": domain_arn}},
            )]),
        )

        self.access_policy = policy_json([Statement(
            sid="NamedRolesOnly", effect="Allow", principals={"AWS": [self.master_role_arn, *client_role_arns]},
            # every HTTP verb, named (no wildcard); what a role may do inside is fine-grained
            # access control's call
            actions=list(HTTP_ACTIONS),
            resources=[f"{domain_arn}/*"],
        )])

        zone_awareness = zones > 1
        self.domain = OpensearchDomain(
            self, "domain",
            domain_name=name,
            engine_version=engine_version,
            # inline (the ARN is known from the name): a separate aws_opensearch_domain_policy
            # waits for the domain to settle once more
            access_policies=self.access_policy,
            cluster_config=OpensearchDomainClusterConfig(
                instance_type=instance_type,
                instance_count=instance_count,
                dedicated_master_enabled=dedicated_master_count > 0,
                dedicated_master_count=dedicated_master_count or None,
                dedicated_master_type=dedicated_master_type if dedicated_master_count else None,
                zone_awareness_enabled=zone_awareness,
                zone_awareness_config=(OpensearchDomainClusterConfigZoneAwarenessConfig(availability_zone_count=zones)
                                       if zone_awareness else None),
            ),
            vpc_options=OpensearchDomainVpcOptions(subnet_ids=list(subnet_ids)[:zones],
                                                   security_group_ids=[self.security_group.group.id]),
            ebs_options=OpensearchDomainEbsOptions(ebs_enabled=True, volume_type="gp3", volume_size=volume_size_gb),
            encrypt_at_rest=OpensearchDomainEncryptAtRest(enabled=True, kms_key_id=kms_key_arn),
            node_to_node_encryption=OpensearchDomainNodeToNodeEncryption(enabled=True),
            domain_endpoint_options=OpensearchDomainDomainEndpointOptions(
                enforce_https=True, tls_security_policy=TLS_SECURITY_POLICY),
            advanced_security_options=OpensearchDomainAdvancedSecurityOptions(
                enabled=True,
                anonymous_auth_enabled=False,
                internal_user_database_enabled=False,
                master_user_options=OpensearchDomainAdvancedSecurityOptionsMasterUserOptions(
                    master_user_arn=self.master_role_arn),
            ),
            log_publishing_options=[
                OpensearchDomainLogPublishingOptions(log_type=log_type, enabled=True,
                                                     cloudwatch_log_group_arn=group.log_group.arn)
                for log_type, group in self.log_groups.items()
            ],
            timeouts=(OpensearchDomainTimeouts(create=SHORT_TIMEOUT, update=SHORT_TIMEOUT, delete=SHORT_TIMEOUT)
                      if short_timeouts else None),
            tags=tags_with(tags),
            lifecycle=destroy_guard(prevent_destroy),
            # OpenSearch checks at creation that it may write to the log groups
            depends_on=[self.log_policy],
        )

    @staticmethod
    def _check(name: str, subnet_ids: Sequence[str], instance_count: int, volume_size_gb: int,
               master_role_arn: str | None, admin_principal_arns: Sequence[str]) -> int:
        if not _DOMAIN_RE.match(name):
            raise ValueError(f"opensearch {name!r}: a domain name is 3-28 lower-case letters, digits or '-', "
                             "starting with a letter")
        if not subnet_ids:
            raise ValueError(f"opensearch {name}: needs at least one private subnet")
        if not 1 <= instance_count <= 80:
            raise ValueError(f"opensearch {name}: instance_count must be between 1 and 80, got {instance_count}")
        zones = opensearch_zone_count(instance_count, len(subnet_ids))
        if zones > len(subnet_ids):
            raise ValueError(f"opensearch {name}: {instance_count} nodes spread over {zones} availability zones "
                             f"need {zones} private subnets, got {len(subnet_ids)}")
        if instance_count % zones:
            raise ValueError(f"opensearch {name}: instance_count must be 1 or a multiple of the {zones} availability "
                             f"zones the domain spreads over, got {instance_count}")
        if volume_size_gb < 10:
            raise ValueError(f"opensearch {name}: volume_size_gb must be at least 10 (gp3), got {volume_size_gb}")
        if master_role_arn and admin_principal_arns:
            raise ValueError(f"opensearch {name}: admin_principal_arns only apply to the master role the construct "
                             "creates; leave them empty with master_role_arn")
        if not master_role_arn and not admin_principal_arns:
            raise ValueError(f"opensearch {name}: admin_principal_arns must name the role(s) that may assume the "
                             "master role (or give master_role_arn): it never trusts the whole account")
        root = [a for a in admin_principal_arns if a.endswith(":root")]
        if root:
            raise ValueError(f"opensearch {name}: admin_principal_arns must name roles, not an account root "
                             f"({', '.join(root)})")
        return zones


def wire_opensearch(scope: Construct, section: OpenSearchConfig, ctx: ServiceContext) -> OpenSearchDomain:
    """The environment's OpenSearch domain ``<prefix>-search`` from ``[services.opensearch]``;
    on the emulator with short timeouts. Outputs: the endpoint, the Dashboards endpoint, the
    master role's ARN."""
    network = require_network(ctx, "OpenSearch")
    search = OpenSearchDomain(
        scope, "opensearch",
        name=ctx.resource_name("search"),
        kms_key_arn=ctx.kms_key_arn,
        region=ctx.region,
        account_id=ctx.account_id,
        vpc_id=network.vpc_id,
        subnet_ids=network.private_subnet_ids,
        client_security_group_ids=network.client_security_group_ids,
        engine_version=section.engine_version,
        instance_type=section.instance_type,
        instance_count=section.instance_count,
        dedicated_master_count=section.dedicated_master_count,
        dedicated_master_type=section.dedicated_master_type,
        volume_size_gb=section.volume_size_gb,
        master_role_arn=section.master_role_arn or None,
        admin_principal_arns=section.admin_role_arns,
        client_role_arns=section.client_role_arns,
        log_retention_days=ctx.log_retention_days,
        short_timeouts=ctx.on_emulator,
        rule_descriptions=not ctx.on_emulator,
        prevent_destroy=ctx.prevent_destroy,
    )
    TerraformOutput(scope, "opensearch_endpoint", value=search.domain.endpoint,
                    description="OpenSearch domain endpoint (HTTPS, in the VPC)")
    TerraformOutput(scope, "opensearch_dashboards_endpoint", value=search.domain.dashboard_endpoint,
                    description="OpenSearch Dashboards endpoint of the domain")
    TerraformOutput(scope, "opensearch_master_role_arn", value=search.master_role_arn,
                    description="IAM role that is the domain's fine-grained access control master")
    return search
