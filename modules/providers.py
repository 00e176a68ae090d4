"""The AWS provider block and the state backend, configured from plain values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from cdktf import LocalBackend, S3Backend, TerraformStack
from cdktf_cdktf_provider_aws.provider import AwsProvider, AwsProviderDefaultTags, AwsProviderEndpoints
from constructs import Construct

#: The AWS provider release this kit is tested with; the prebuilt bindings would write 5.99.1.
AWS_PROVIDER_VERSION = "5.100.0"
TERRAFORM_REQUIRED_VERSION = ">= 1.6"

#: Services whose endpoint is pointed at the emulator (keys of AwsProviderEndpoints).
EMULATED_SERVICES = (
    "apigateway", "apigatewayv2", "appsync", "athena", "backup", "batch", "cloudtrail", "cloudwatch", "logs", "dynamodb",
    "dms", "ec2", "ecr", "elasticache", "events", "firehose", "glue", "iam", "kinesis", "kms", "lakeformation", "lambda_",
    "memorydb", "neptune", "docdb", "opensearch", "redshift",
    "redshiftdata", "redshiftserverless", "s3", "scheduler", "secretsmanager", "sfn", "sns", "sqs", "ssm", "sts", "timestreamwrite",
)


@dataclass(frozen=True)
class EmulatorEndpoint:
    """An AWS emulator reachable at ``url``; credentials are fake."""

    url: str
    access_key: str = "testing"
    secret_key: str = "testing"


def aws_provider(
    scope: Construct,
    *,
    region: str,
    account_id: str,
    default_tags: Mapping[str, str],
    emulator: EmulatorEndpoint | None = None,
) -> AwsProvider:
    """The AWS provider with ``default_tags`` on every resource.

    Against AWS it refuses to run in any account but ``account_id`` (``allowed_account_ids``),
    so a wrong profile cannot deploy one environment into another's account. Against the
    emulator it uses fake credentials, path-style S3, a short retry budget (the emulator answers
    unimplemented calls with HTTP 500) and asks the emulator's STS for the account id.
    """
    tags = [AwsProviderDefaultTags(tags=dict(default_tags))]
    if emulator is None:
        return AwsProvider(scope, "aws", region=region, allowed_account_ids=[account_id], default_tags=tags)
    endpoints = AwsProviderEndpoints(**{service: emulator.url for service in EMULATED_SERVICES})
    return AwsProvider(
        scope, "aws",
        region=region,
        access_key=emulator.access_key,
        secret_key=emulator.secret_key,
        s3_use_path_style=True,
        skip_credentials_validation=True,
        skip_metadata_api_check="true",
        skip_region_validation=True,
        skip_requesting_account_id=False,
        max_retries=2,
        endpoints=[endpoints],
        default_tags=tags,
    )


def pin_aws_provider(stack: TerraformStack) -> None:
    """Pin ``hashicorp/aws`` to the tested release and Terraform to a supported range."""
    stack.add_override("terraform.required_providers.aws.source", "hashicorp/aws")
    stack.add_override("terraform.required_providers.aws.version", AWS_PROVIDER_VERSION)
    stack.add_override("terraform.required_version", TERRAFORM_REQUIRED_VERSION)


def local_state(stack: TerraformStack, *, path: str) -> LocalBackend:
    """State in a local file (``path`` is relative to the Terraform working directory)."""
    return LocalBackend(stack, path=path)


def s3_state(stack: TerraformStack, *, bucket: str, key: str, region: str, lock_table: str) -> S3Backend:
    """Shared state in S3 (encrypted) with a DynamoDB lock table."""
    return S3Backend(stack, bucket=bucket, key=key, region=region, dynamodb_table=lock_table, encrypt=True)
