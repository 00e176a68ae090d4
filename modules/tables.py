"""DynamoDB tables: the per-file status table and the Powertools idempotency table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.dynamodb_table import (
    DynamodbTable,
    DynamodbTableAttribute,
    DynamodbTableGlobalSecondaryIndex,
    DynamodbTablePointInTimeRecovery,
    DynamodbTableServerSideEncryption,
    DynamodbTableTtl,
)
from constructs import Construct


@dataclass(frozen=True)
class SecondaryIndex:
    name: str
    hash_key: str
    range_key: str | None = None


@dataclass(frozen=True)
class TableProtection:
    point_in_time_recovery: bool
    deletion_protection: bool
    prevent_destroy: bool


@dataclass(frozen=True)
class Capacity:
    billing_mode: str = "PAY_PER_REQUEST"
    read_capacity: int = 5
    write_capacity: int = 5


class DataTable(Construct):
    """A DynamoDB table (``.table``) with string keys, a TTL attribute, SSE-KMS under the
    environment's key, and the given protection."""

    table: DynamodbTable

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        hash_key: str,
        ttl_attribute: str,
        kms_key_arn: str,
        protection: TableProtection,
        capacity: Capacity = Capacity(),
        range_key: str | None = None,
        indexes: Sequence[SecondaryIndex] = (),
        tags: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(scope, id)
        key_names = [hash_key] + ([range_key] if range_key else [])
        for index in indexes:
            key_names += [index.hash_key] + ([index.range_key] if index.range_key else [])
        attributes = [DynamodbTableAttribute(name=n, type="S") for n in dict.fromkeys(key_names)]
        provisioned = capacity.billing_mode == "PROVISIONED"
        self.table = DynamodbTable(
            self, "table",
            name=name,
            billing_mode=capacity.billing_mode,
            read_capacity=capacity.read_capacity if provisioned else None,
            write_capacity=capacity.write_capacity if provisioned else None,
            hash_key=hash_key,
            range_key=range_key,
            attribute=attributes,
            global_secondary_index=[
                DynamodbTableGlobalSecondaryIndex(
                    name=i.name, hash_key=i.hash_key, range_key=i.range_key, projection_type="ALL",
                    read_capacity=capacity.read_capacity if provisioned else None,
                    write_capacity=capacity.write_capacity if provisioned else None,
                )
                for i in indexes
            ] or None,
            ttl=DynamodbTableTtl(attribute_name=ttl_attribute, enabled=True),
            point_in_time_recovery=DynamodbTablePointInTimeRecovery(enabled=protection.point_in_time_recovery),
            server_side_encryption=DynamodbTableServerSideEncryption(enabled=True, kms_key_arn=kms_key_arn),
            deletion_protection_enabled=protection.deletion_protection,
            lifecycle=TerraformResourceLifecycle(prevent_destroy=protection.prevent_destroy),
            tags=dict(tags) if tags else None,
        )


class StatusTable(DataTable):
    """One item per file: partition key ``file_id``; ``by-dataset`` index (``dataset``,
    ``updated_at``) for listing a dataset's files; items expire at ``expires_at`` (epoch seconds)."""

    def __init__(self, scope: Construct, id: str, *, name: str, kms_key_arn: str,
                 protection: TableProtection, capacity: Capacity = Capacity(),
                 tags: Mapping[str, str] | None = None) -> None:
        super().__init__(
            scope, id, name=name, hash_key="file_id", ttl_attribute="expires_at", kms_key_arn=kms_key_arn,
            protection=protection, capacity=capacity, tags=tags,
            indexes=[SecondaryIndex(name="by-dataset", hash_key="dataset", range_key="updated_at")],
        )


class IdempotencyTable(DataTable):
    """The layout aws-lambda-powertools' ``DynamoDBPersistenceLayer`` expects by default:
    partition key ``id`` (string), TTL on ``expiration``."""

    def __init__(self, scope: Construct, id: str, *, name: str, kms_key_arn: str,
                 protection: TableProtection, capacity: Capacity = Capacity(),
                 tags: Mapping[str, str] | None = None) -> None:
        super().__init__(
            scope, id, name=name, hash_key="id", ttl_attribute="expiration", kms_key_arn=kms_key_arn,
            protection=protection, capacity=capacity, tags=tags,
        )
