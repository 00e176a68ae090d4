"""Data governance over the clean zone: Lake Formation (``[services.lakeformation]``) and an
Amazon DataZone domain (``[services.datazone]``).

**Lake Formation** (:class:`LakeFormationGovernance`)

* ``.settings``: ``aws_lakeformation_data_lake_settings`` is an **account-and-region singleton**.
  Applying it *replaces* the account's data lake administrators and default permissions (what is
  not declared is cleared: a missing ``create_*_default_permissions`` means "Lake Formation
  permissions only"), and destroying it empties them (no admins, no defaults). So: one environment
  per account and region manages it, ``admin_arns`` holds every admin the account needs (at least
  the role Terraform deploys with: it grants the permissions below), and it carries
  ``prevent_destroy`` when the environment's data stores do. The ``IAMAllowedPrincipals`` default is
  always written explicitly: ``iam_allowed_principals_default=True`` keeps AWS's backward-compatible
  "Use only IAM access control" for new databases and tables (``ALL`` to ``IAM_ALLOWED_PRINCIPALS``:
  existing IAM policies keep working, the grants here are additive); ``False`` writes empty
  defaults, making Lake Formation grants the only access path for catalog objects created from then
  on. Objects created before keep their ``IAMAllowedPrincipals`` grant until an admin revokes it.
* ``.registrations``: each location (the clean bucket; optionally landing) registered with
  ``.registration_role`` (not the service-linked role), which Lake Formation assumes to vend
  credentials: list the bucket, read/write/delete its objects, and use the environment key through
  S3 only. Nothing else.
* ``.grants``: reader roles get ``DESCRIBE`` on the clean database and ``SELECT``/``DESCRIBE`` on all
  its tables; writer roles (crawler, ETL) get ``CREATE_TABLE``/``ALTER``/``DESCRIBE`` on the
  database, ``SELECT``/``INSERT``/``DELETE``/``ALTER``/``DESCRIBE`` on its tables and
  ``DATA_LOCATION_ACCESS`` on the clean location. No grant option anywhere. A role listed in both
  gets the writer grants only.

**DataZone** (:class:`DataZoneGovernance`): a domain encrypted with the environment key, single
sign-on off (IAM users and roles sign in to the data portal), run by ``.execution_role`` (the trust
policy and the ``AmazonDataZoneDomainExecutionRolePolicy`` managed policy AWS documents, plus use of
the key); a project for the pipeline's datasets; optionally the managed ``DefaultDataLake``
blueprint enabled in the region with its provisioning role (``AmazonDataZoneRedshiftGlueProvisioningPolicy``)
and manage-access role (``AmazonDataZoneGlueManageAccessRolePolicy``). What a user does next, in the
DataZone console / data portal: open the domain's portal URL (output ``datazone_portal_url``), add
members to the project, create a data lake environment from the blueprint (one environment per
project), add a Glue data source on the clean database (``<prefix>_clean``) and run it, then
publish the assets, so that consumers can find and subscribe to them. With Lake Formation on,
also make the manage-access role a Lake Formation admin (``[services.lakeformation] admins``), as
DataZone grants subscriptions through Lake Formation.

Neither service lives in a VPC. The emulator (moto 5.2.5, measured) implements Lake Formation:
settings, registered resources and grants apply and converge; settings and resources destroy, but
the provider fails to destroy grants there (moto revokes them, then the provider reports "empty
retryable error"; a second destroy finishes), so ``create_grants=False`` on the emulator leaves the
grants out. It does not implement DataZone: ``wire_datazone`` refuses to run there.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from cdktf import TerraformOutput, TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.data_aws_datazone_environment_blueprint import DataAwsDatazoneEnvironmentBlueprint
from cdktf_cdktf_provider_aws.datazone_domain import DatazoneDomain, DatazoneDomainSingleSignOn
from cdktf_cdktf_provider_aws.datazone_environment_blueprint_configuration import (
    DatazoneEnvironmentBlueprintConfiguration,
)
from cdktf_cdktf_provider_aws.datazone_project import DatazoneProject
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from cdktf_cdktf_provider_aws.lakeformation_data_lake_settings import (
    LakeformationDataLakeSettings,
    LakeformationDataLakeSettingsCreateDatabaseDefaultPermissions,
    LakeformationDataLakeSettingsCreateTableDefaultPermissions,
)
from cdktf_cdktf_provider_aws.lakeformation_permissions import (
    LakeformationPermissions,
    LakeformationPermissionsDatabase,
    LakeformationPermissionsDataLocation,
    LakeformationPermissionsTable,
)
from cdktf_cdktf_provider_aws.lakeformation_resource import LakeformationResource
from constructs import Construct

from environments.sections.governance import DataZoneConfig, LakeFormationConfig

from ..kms import key_use_via
from ..policy import Statement, policy_json
from . import ServiceContext

__all__ = [
    "DATAZONE_EXECUTION_POLICY", "DataZoneGovernance", "IAM_ALLOWED_PRINCIPALS", "LakeFormationGovernance",
    "READER_TABLE_PERMISSIONS", "WRITER_DATABASE_PERMISSIONS", "WRITER_TABLE_PERMISSIONS", "datazone_key_statements",
    "datazone_trust_policy", "registration_statements", "wire_datazone", "wire_lakeformation",
]

IAM_ALLOWED_PRINCIPALS = "IAM_ALLOWED_PRINCIPALS"
READER_DATABASE_PERMISSIONS = ("DESCRIBE",)
READER_TABLE_PERMISSIONS = ("DESCRIBE", "SELECT")
WRITER_DATABASE_PERMISSIONS = ("ALTER", "CREATE_TABLE", "DESCRIBE")
WRITER_TABLE_PERMISSIONS = ("ALTER", "DELETE", "DESCRIBE", "INSERT", "SELECT")

#: AWS-managed policies DataZone documents for its roles (ARN path after ``policy/``).
DATAZONE_EXECUTION_POLICY = "service-role/AmazonDataZoneDomainExecutionRolePolicy"
DATAZONE_PROVISIONING_POLICY = "AmazonDataZoneRedshiftGlueProvisioningPolicy"
DATAZONE_MANAGE_ACCESS_POLICY = "service-role/AmazonDataZoneGlueManageAccessRolePolicy"
DATA_LAKE_BLUEPRINT = "DefaultDataLake"


# ---------------------------------------------------------------------------------------------
# Lake Formation
# ---------------------------------------------------------------------------------------------


def registration_statements(*, bucket_arns: Sequence[str], kms_key_arn: str, region: str) -> list[Statement]:
    """What Lake Formation needs, as the registration role, to vend credentials for the buckets."""
    return [
        Statement(sid="ListRegisteredBuckets", effect="Allow", actions=["s3:ListBucket"], resources=list(bucket_arns)),
        Statement(sid="ReadWriteRegisteredObjects", effect="Allow",
                  actions=["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
                  resources=[f"{arn}/*" for arn in bucket_arns]),
        Statement(sid="UseEnvironmentKeyThroughS3", effect="Allow",
                  actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"], resources=[kms_key_arn],
                  conditions={"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}}),
    ]


def _lakeformation_trust(account_id: str) -> str:
    return policy_json([Statement(
        sid="LakeFormationAssumeRole", effect="Allow", principals={"Service": "lakeformation.amazonaws.com"},
        actions=["sts:AssumeRole"], conditions={"StringEquals": {"aws:SourceAccount": account_id}})])


class LakeFormationGovernance(Construct):
    """Lake Formation over the clean zone (see the module's notes): ``.settings``,
    ``.registration_role``, ``.registrations`` (``{label: LakeformationResource}``) and ``.grants``
    (``{"reader-0-database": ..., "writer-0-location": ..., ...}``).

    ``locations`` maps a label (``clean``, ``landing``) to a bucket ARN; ``writer_location_label``
    names the one writers get ``DATA_LOCATION_ACCESS`` on. ``catalog_id`` is the account id.
    ``create_grants=False`` (the emulator workaround, see the module's notes) leaves ``.grants`` empty.
    """

    settings: LakeformationDataLakeSettings
    registration_role: IamRole
    registrations: dict[str, LakeformationResource]
    grants: dict[str, LakeformationPermissions]

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        admin_arns: Sequence[str],
        iam_allowed_principals_default: bool,
        locations: Mapping[str, str],
        kms_key_arn: str,
        region: str,
        catalog_id: str,
        database_name: str,
        reader_role_arns: Sequence[str] = (),
        writer_role_arns: Sequence[str] = (),
        writer_location_label: str = "clean",
        create_grants: bool = True,
        prevent_destroy: bool = False,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(scope, id)
        if not admin_arns:
            raise ValueError(f"lake formation {name}: admin_arns must not be empty (the data lake settings replace "
                             "the account's administrators; include the role Terraform deploys with)")
        if not locations:
            raise ValueError(f"lake formation {name}: locations must register at least one bucket")
        if writer_role_arns and writer_location_label not in locations:
            raise ValueError(f"lake formation {name}: writer_location_label {writer_location_label!r} is not one of "
                             f"the registered locations ({', '.join(sorted(locations))})")
        defaults = [IAM_ALLOWED_PRINCIPALS] if iam_allowed_principals_default else []
        self.settings = LakeformationDataLakeSettings(
            self, "settings",
            catalog_id=catalog_id,
            admins=list(dict.fromkeys(admin_arns)),
            create_database_default_permissions=[
                LakeformationDataLakeSettingsCreateDatabaseDefaultPermissions(principal=p, permissions=["ALL"])
                for p in defaults],
            create_table_default_permissions=[
                LakeformationDataLakeSettingsCreateTableDefaultPermissions(principal=p, permissions=["ALL"])
                for p in defaults],
            lifecycle=TerraformResourceLifecycle(prevent_destroy=prevent_destroy),
        )

        self.registration_role = IamRole(self, "registration-role", name=f"{name}-lf-registration",
                                         assume_role_policy=_lakeformation_trust(catalog_id),
                                         tags=dict(tags) if tags else None)
        policy = IamRolePolicy(self, "registration-policy", name=f"{name}-lf-registration", role=self.registration_role.id,
                               policy=policy_json(registration_statements(bucket_arns=list(locations.values()),
                                                                          kms_key_arn=kms_key_arn, region=region)))
        self.registrations = {
            label: LakeformationResource(self, f"location-{label}", arn=arn, role_arn=self.registration_role.arn,
                                         use_service_linked_role=False, depends_on=[policy, self.settings])
            for label, arn in locations.items()
        }

        self.grants = {}
        if not create_grants:
            return
        writers = list(dict.fromkeys(writer_role_arns))
        readers = [r for r in dict.fromkeys(reader_role_arns) if r not in writers]
        for i, role in enumerate(readers):
            self._grant(f"reader-{i}-database", role, READER_DATABASE_PERMISSIONS,
                        database=LakeformationPermissionsDatabase(name=database_name, catalog_id=catalog_id))
            self._grant(f"reader-{i}-tables", role, READER_TABLE_PERMISSIONS,
                        table=LakeformationPermissionsTable(database_name=database_name, wildcard=True,
                                                            catalog_id=catalog_id))
        for i, role in enumerate(writers):
            self._grant(f"writer-{i}-database", role, WRITER_DATABASE_PERMISSIONS,
                        database=LakeformationPermissionsDatabase(name=database_name, catalog_id=catalog_id))
            self._grant(f"writer-{i}-tables", role, WRITER_TABLE_PERMISSIONS,
                        table=LakeformationPermissionsTable(database_name=database_name, wildcard=True,
                                                            catalog_id=catalog_id))
            self._grant(f"writer-{i}-location", role, ("DATA_LOCATION_ACCESS",),
                        data_location=LakeformationPermissionsDataLocation(
                            arn=locations[writer_location_label], catalog_id=catalog_id),
                        depends_on=[self.registrations[writer_location_label]])

    def _grant(self, key: str, principal: str, permissions: Sequence[str], *, depends_on: Sequence = (),
               **resource) -> None:
        # The settings make the deploying role an admin: only then may it grant.
        self.grants[key] = LakeformationPermissions(
            self, key, principal=principal, permissions=list(permissions), permissions_with_grant_option=[],
            depends_on=[self.settings, *depends_on], **resource)


def wire_lakeformation(scope: Construct, section: LakeFormationConfig, ctx: ServiceContext) -> LakeFormationGovernance:
    """Lake Formation from ``[services.lakeformation]``: the clean bucket (and landing with
    ``register_landing``) registered, grants for ``ctx.catalog_reader_role_arns`` (readers) and
    ``ctx.catalog_writer_role_arns`` (crawler and ETL, when the context has them).

    Output: ``lakeformation_registration_role_arn``."""
    labels = ["clean"] + (["landing"] if section.register_landing else [])
    missing = [label for label in labels if label not in ctx.buckets]
    if missing:
        raise ValueError(f"lakeformation: the context has no {', '.join(missing)} bucket")
    # ServiceContext has no separate writer list yet: until it does, every catalog role is a reader.
    writers = tuple(getattr(ctx, "catalog_writer_role_arns", ()) or ())
    governance = LakeFormationGovernance(
        scope, "lakeformation",
        name=ctx.resource_name("data-lake"),
        admin_arns=section.admins,
        iam_allowed_principals_default=section.iam_allowed_principals_default,
        locations={label: ctx.buckets[label].arn for label in labels},
        kms_key_arn=ctx.kms_key_arn,
        region=ctx.region,
        catalog_id=ctx.account_id,
        database_name=ctx.glue_clean_database,
        reader_role_arns=tuple(ctx.catalog_reader_role_arns),
        writer_role_arns=writers,
        create_grants=not ctx.on_emulator,
        prevent_destroy=ctx.prevent_destroy,
    )
    TerraformOutput(scope, "lakeformation_registration_role_arn", value=governance.registration_role.arn,
                    description="Role Lake Formation assumes to vend credentials for the registered buckets")
    return governance


# ---------------------------------------------------------------------------------------------
# DataZone
# ---------------------------------------------------------------------------------------------


def datazone_trust_policy(*, account_id: str, domain_execution: bool, domain_arn: str | None = None) -> str:
    """The trust policies DataZone documents: the domain execution role also lets DataZone tag
    the session (``datazone*`` tag keys only); the blueprint roles are assumed for one domain."""
    if domain_execution:
        return policy_json([Statement(
            sid="DataZoneAssumeRole", effect="Allow", principals={"Service": "datazone.amazonaws.com"},
            actions=["sts:AssumeRole", "sts:TagSession"],
            conditions={"StringEquals": {"aws:SourceAccount": account_id},
                        "ForAllValues:StringLike": {"aws:TagKeys": ["datazone*"]}})])
    conditions: dict = {"StringEquals": {"aws:SourceAccount": account_id}}
    if domain_arn:
        conditions["ArnEquals"] = {"aws:SourceArn": domain_arn}
    return policy_json([Statement(sid="DataZoneAssumeRole", effect="Allow",
                                  principals={"Service": "datazone.amazonaws.com"},
                                  actions=["sts:AssumeRole"], conditions=conditions)])


def datazone_key_statements(kms_key_arn: str, region: str) -> list[Statement]:
    """The domain's metadata is encrypted with the environment key: the execution role uses it,
    through DataZone only (``kms:ViaService``)."""
    return [key_use_via(sid="UseDomainKeyThroughDataZone", key_arn=kms_key_arn, region=region, services=["datazone"],
                        actions=["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"])]


class DataZoneGovernance(Construct):
    """A DataZone domain (``.domain``, single sign-on off, encrypted with ``kms_key_arn``), its
    ``.execution_role``, a ``.project`` and, with ``data_lake_blueprint``, ``.blueprint`` (the
    ``DefaultDataLake`` blueprint enabled in ``region``) with ``.provisioning_role`` and
    ``.manage_access_role`` (all three None otherwise). See the module's notes for the next steps.

    ``skip_deletion_check``: let ``destroy`` delete a domain or project that still holds assets
    (off unless the environment's data stores are unprotected)."""

    domain: DatazoneDomain
    execution_role: IamRole
    project: DatazoneProject
    blueprint: DatazoneEnvironmentBlueprintConfiguration | None
    provisioning_role: IamRole | None
    manage_access_role: IamRole | None

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        kms_key_arn: str,
        account_id: str,
        region: str,
        project_name: str,
        datasets: Sequence[str] = (),
        data_lake_blueprint: bool = False,
        skip_deletion_check: bool = False,
        tags: Mapping[str, str] | None = None,
        partition: str = "aws",
    ) -> None:
        super().__init__(scope, id)
        tag_map = dict(tags) if tags else None
        managed = f"arn:{partition}:iam::aws:policy/"
        self.execution_role = IamRole(
            self, "execution-role", name=f"{name}-datazone-execution",
            assume_role_policy=datazone_trust_policy(account_id=account_id, domain_execution=True), tags=tag_map)
        attachment = IamRolePolicyAttachment(self, "execution-managed", role=self.execution_role.name,
                                             policy_arn=managed + DATAZONE_EXECUTION_POLICY)
        key_policy = IamRolePolicy(self, "execution-key", name=f"{name}-datazone-key", role=self.execution_role.id,
                                   policy=policy_json(datazone_key_statements(kms_key_arn, region)))
        self.domain = DatazoneDomain(
            self, "domain",
            name=name,
            description="pipeline-kit: the pipeline's curated datasets",
            domain_execution_role=self.execution_role.arn,
            kms_key_identifier=kms_key_arn,
            single_sign_on=[DatazoneDomainSingleSignOn(type="DISABLED")],
            skip_deletion_check=skip_deletion_check,
            tags=tag_map,
            depends_on=[attachment, key_policy],
        )
        listed = ", ".join(datasets) if datasets else "none yet"
        self.project = DatazoneProject(
            self, "project", domain_identifier=self.domain.id, name=project_name,
            description=f"The pipeline's clean datasets ({listed})"[:2048],
            skip_deletion_check=skip_deletion_check)

        self.blueprint = self.provisioning_role = self.manage_access_role = None
        if not data_lake_blueprint:
            return
        self.provisioning_role = IamRole(
            self, "provisioning-role", name=f"{name}-datazone-provisioning",
            assume_role_policy=datazone_trust_policy(account_id=account_id, domain_execution=False), tags=tag_map)
        IamRolePolicyAttachment(self, "provisioning-managed", role=self.provisioning_role.name,
                                policy_arn=managed + DATAZONE_PROVISIONING_POLICY)
        self.manage_access_role = IamRole(
            self, "manage-access-role", name=f"{name}-datazone-glue-access",
            assume_role_policy=datazone_trust_policy(account_id=account_id, domain_execution=False,
                                                     domain_arn=self.domain.arn), tags=tag_map)
        IamRolePolicyAttachment(self, "manage-access-managed", role=self.manage_access_role.name,
                                policy_arn=managed + DATAZONE_MANAGE_ACCESS_POLICY)
        blueprint = DataAwsDatazoneEnvironmentBlueprint(self, "data-lake-blueprint", domain_id=self.domain.id,
                                                        name=DATA_LAKE_BLUEPRINT, managed=True)
        self.blueprint = DatazoneEnvironmentBlueprintConfiguration(
            self, "data-lake-blueprint-configuration",
            domain_id=self.domain.id,
            environment_blueprint_id=blueprint.id,
            enabled_regions=[region],
            provisioning_role_arn=self.provisioning_role.arn,
            manage_access_role_arn=self.manage_access_role.arn,
        )


def wire_datazone(scope: Construct, section: DataZoneConfig, ctx: ServiceContext) -> DataZoneGovernance:
    """The DataZone domain and project from ``[services.datazone]``.

    Outputs: ``datazone_domain_id``, ``datazone_portal_url``, ``datazone_project_id``."""
    if ctx.on_emulator:
        raise ValueError("datazone: the emulator does not implement DataZone; switch it on in AWS environments only")
    governance = DataZoneGovernance(
        scope, "datazone",
        name=ctx.resource_name("data"),
        kms_key_arn=ctx.kms_key_arn,
        account_id=ctx.account_id,
        region=ctx.region,
        project_name=section.project_name,
        datasets=tuple(ctx.datasets),
        data_lake_blueprint=section.data_lake_blueprint,
        skip_deletion_check=not ctx.deletion_protection,
    )
    TerraformOutput(scope, "datazone_domain_id", value=governance.domain.id,
                    description="ID of the DataZone domain")
    TerraformOutput(scope, "datazone_portal_url", value=governance.domain.portal_url,
                    description="DataZone data portal (IAM sign-in)")
    TerraformOutput(scope, "datazone_project_id", value=governance.project.id,
                    description="ID of the DataZone project that owns the pipeline's datasets")
    return governance
