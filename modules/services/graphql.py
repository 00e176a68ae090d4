"""AppSync: a GraphQL API over the pipeline's status table (``[services.appsync]``).

**What it serves.** The status table (``modules.tables.StatusTable``) holds one item per file,
written by the notify plug-in (``lambdas/notify/core.py::status_item``): partition key ``file_id``,
GSI ``by-dataset`` (``dataset`` + ``updated_at``, projection ALL), and the attributes ``status``,
``environment``, ``bucket``, ``key``, ``etag``, ``version_id``, ``size``, ``received_at``,
``counts`` (map), ``locations`` (map), ``reason``, ``expires_at`` (epoch seconds). The schema
(:data:`SCHEMA`) keeps those snake_case names, so the resolvers return items unchanged except the
two maps, which become ``AWSJSON`` strings.

* ``Query.fileStatus(file_id)`` → ``GetItem`` on the table;
* ``Query.filesByDataset(dataset, since, limit, next_token)`` → ``Query`` on the ``by-dataset``
  index, newest first (the index's range key ``updated_at`` is ISO-8601 UTC, which sorts as text),
  ``since`` filters ``updated_at >= since`` in the key condition (no scan, no filter);
* ``Mutation.publishStatus(input)`` → a ``NONE`` data source: it stores nothing and returns its
  input, only so that ``Subscription.onStatusUpdate(dataset, file_id, status)``
  (``@aws_subscribe(mutations: ["publishStatus"])``) fires for the subscribers whose arguments
  match. AppSync subscriptions fire on mutations made *through AppSync* only, never on a table
  write, so **the writer of the status item calls it**: the notify plug-in after its ``put_item``
  (or a stream-triggered function on the table's stream), signing the request with SigV4; its role
  needs :func:`publisher_statements`. Until a writer calls it, subscriptions stay silent.

**Authentication: IAM only** (``AWS_IAM``): no API key, no secret anywhere. Callers sign with
SigV4 and need ``appsync:GraphQL`` on the fields they use: :func:`reader_statements` (the two
queries and the subscription) and :func:`publisher_statements` (the mutation). Keeping the mutation
out of the readers' grant means a reader cannot push fake statuses to subscribers.

**Data source role** (``.data_source_role``): assumed by AppSync for this API only
(``aws:SourceArn``), ``dynamodb:GetItem`` on the table, ``dynamodb:Query`` on the ``by-dataset``
index, ``kms:Decrypt`` on the environment key via DynamoDB only. Nothing else: no writes, no scan.

**Logging**: field-level logs (``field_log_level``: NONE/ERROR/INFO/DEBUG/ALL) go to
``/aws/appsync/apis/<api id>``, the group AppSync writes to, created here with the environment's
retention and encrypted with the environment key. The logging role may only create streams and put
events in that group (no ``logs:CreateLogGroup``: AppSync cannot create an unencrypted one).
``exclude_verbose_content`` (default on) keeps request/response contents (file keys, reasons) out of
the logs. X-Ray tracing follows ``xray_enabled``.

**Emulator** (moto 5.2.5, measured): the API, its schema, the log group and the roles apply and
destroy; data sources and resolvers do not exist there (no CreateDataSource), so
``create_resolvers=False`` leaves out the data sources, resolvers and the data source role
(``.data_sources``/``.resolvers`` are empty, ``.data_source_role`` None). moto reads back no
``api_type``, ``introspection_config`` nor ``query_depth_limit`` (and ``tags`` as ``{}``), which
would replace the API on every plan: ``ignore_emulator_drift=True`` ignores those attributes.

AppSync has no deletion protection and holds no data: ``deletion_protection``/``prevent_destroy``
do not apply.
"""

from __future__ import annotations

import json
from typing import Mapping

from cdktf import TerraformOutput, TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.appsync_datasource import AppsyncDatasource, AppsyncDatasourceDynamodbConfig
from cdktf_cdktf_provider_aws.appsync_graphql_api import AppsyncGraphqlApi, AppsyncGraphqlApiLogConfig
from cdktf_cdktf_provider_aws.appsync_resolver import AppsyncResolver, AppsyncResolverRuntime
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from constructs import Construct

from environments.sections.governance import AppSyncConfig

from ..logs import LogGroup
from ..policy import Statement, policy_json
from . import ServiceContext

__all__ = [
    "FIELD_LOG_LEVELS", "SCHEMA", "StatusGraphqlApi", "data_source_statements", "get_item_code",
    "logging_statements", "publish_code", "publisher_statements", "query_by_dataset_code",
    "reader_statements", "wire_appsync",
]

FIELD_LOG_LEVELS = ("NONE", "ERROR", "INFO", "DEBUG", "ALL")
#: The status table's layout (``modules.tables.StatusTable``).
STATUS_INDEX = "by-dataset"
QUERY_FIELDS = ("fileStatus", "filesByDataset")
MUTATION_FIELD = "publishStatus"
SUBSCRIPTION_FIELD = "onStatusUpdate"
#: Attributes moto does not read back (the plan would replace the API each time).
EMULATOR_UNREAD_ATTRIBUTES = ("api_type", "introspection_config", "query_depth_limit", "tags")
JS_RUNTIME = AppsyncResolverRuntime(name="APPSYNC_JS", runtime_version="1.0.0")

_ITEM_FIELDS = """\
  file_id: ID!
  dataset: String!
  status: String!
  "ISO-8601 UTC, e.g. 2024-05-01T10:00:03.123456Z"
  updated_at: String!
  environment: String
  bucket: String
  key: String
  etag: String
  version_id: String
  size: Float
  received_at: String
  counts: AWSJSON
  locations: AWSJSON
  reason: String
  expires_at: AWSTimestamp
"""

#: The GraphQL schema (SDL). Field names are the status item's attribute names.
SCHEMA = f'''\
"One file's status: the status table's item, written by the notify plug-in."
type FileStatus {{
{_ITEM_FIELDS}}}

"A page of a dataset's files, newest first; pass next_token back for the next page."
type FileStatusPage {{
  items: [FileStatus!]!
  next_token: String
}}

input FileStatusInput {{
{_ITEM_FIELDS}}}

type Query {{
  "The status of one file (null if unknown or expired)."
  fileStatus(file_id: ID!): FileStatus
  "A dataset's files, newest first; since: only files updated at or after it (ISO-8601 UTC)."
  filesByDataset(dataset: String!, since: String, limit: Int, next_token: String): FileStatusPage!
}}

type Mutation {{
  "Announces a status to subscribers (stores nothing): called by the status table's writer."
  publishStatus(input: FileStatusInput!): FileStatus
}}

type Subscription {{
  "Status updates, optionally only for a dataset, a file or a status."
  onStatusUpdate(dataset: String, file_id: ID, status: String): FileStatus
    @aws_subscribe(mutations: ["publishStatus"])
}}

schema {{
  query: Query
  mutation: Mutation
  subscription: Subscription
}}
'''

# -- resolvers (APPSYNC_JS). No JS template literals: Terraform would interpolate "${". --------

_PRESENT_JS = """\
import { util } from '@aws-appsync/utils';

function present(item) {
  if (!item) {
    return null;
  }
  const out = { ...item };
  if (out.counts !== undefined && out.counts !== null) {
    out.counts = JSON.stringify(out.counts);
  }
  if (out.locations !== undefined && out.locations !== null) {
    out.locations = JSON.stringify(out.locations);
  }
  return out;
}
"""


def get_item_code() -> str:
    """``Query.fileStatus``: GetItem by ``file_id``."""
    return _PRESENT_JS + """
export function request(ctx) {
  return { operation: 'GetItem', key: util.dynamodb.toMapValues({ file_id: ctx.args.file_id }) };
}

export function response(ctx) {
  if (ctx.error) {
    util.error(ctx.error.message, ctx.error.type);
  }
  return present(ctx.result);
}
"""


def query_by_dataset_code(*, index_name: str = STATUS_INDEX, default_limit: int = 50, max_limit: int = 100) -> str:
    """``Query.filesByDataset``: Query on the ``dataset``/``updated_at`` index, newest first."""
    if not 1 <= default_limit <= max_limit:
        raise ValueError(f"default_limit must be between 1 and max_limit ({max_limit}), got {default_limit}")
    return _PRESENT_JS + f"""
const INDEX = {json.dumps(index_name)};
const DEFAULT_LIMIT = {default_limit};
const MAX_LIMIT = {max_limit};
""" + """
export function request(ctx) {
  const limit = ctx.args.limit === undefined || ctx.args.limit === null ? DEFAULT_LIMIT : ctx.args.limit;
  if (limit < 1 || limit > MAX_LIMIT) {
    util.error('limit must be between 1 and ' + MAX_LIMIT, 'ValidationError');
  }
  let expression = '#dataset = :dataset';
  const names = { '#dataset': 'dataset' };
  const values = { ':dataset': ctx.args.dataset };
  if (ctx.args.since) {
    expression = expression + ' AND #updated_at >= :since';
    names['#updated_at'] = 'updated_at';
    values[':since'] = ctx.args.since;
  }
  const request = {
    operation: 'Query',
    index: INDEX,
    query: { expression: expression, expressionNames: names, expressionValues: util.dynamodb.toMapValues(values) },
    scanIndexForward: false,
    limit: limit,
  };
  if (ctx.args.next_token) {
    request.nextToken = ctx.args.next_token;
  }
  return request;
}

export function response(ctx) {
  if (ctx.error) {
    util.error(ctx.error.message, ctx.error.type);
  }
  return { items: ctx.result.items.map(present), next_token: ctx.result.nextToken };
}
"""


def publish_code() -> str:
    """``Mutation.publishStatus`` on the NONE data source: returns its input (subscribers get it)."""
    return """\
export function request(ctx) {
  return { payload: ctx.args.input };
}

export function response(ctx) {
  return ctx.result;
}
"""


# -- IAM ----------------------------------------------------------------------------------


def _field_arn(api_arn: str, type_name: str, field: str) -> str:
    return f"{api_arn}/types/{type_name}/fields/{field}"


def reader_statements(api_arn: str) -> list[Statement]:
    """What a client of the API needs: the two queries and the subscription (not the mutation)."""
    return [Statement(
        sid="QueryFileStatus", effect="Allow", actions=["appsync:GraphQL"],
        resources=[*(_field_arn(api_arn, "Query", f) for f in QUERY_FIELDS),
                   _field_arn(api_arn, "Subscription", SUBSCRIPTION_FIELD)])]


def publisher_statements(api_arn: str) -> list[Statement]:
    """What the status writer (notify) needs to announce a status to subscribers."""
    return [Statement(sid="PublishFileStatus", effect="Allow", actions=["appsync:GraphQL"],
                      resources=[_field_arn(api_arn, "Mutation", MUTATION_FIELD)])]


def data_source_statements(*, table_arn: str, index_name: str, kms_key_arn: str, region: str) -> list[Statement]:
    """Read one item from the table, query the dataset index; decrypt through DynamoDB only."""
    return [
        Statement(sid="GetFileStatus", effect="Allow", actions=["dynamodb:GetItem"], resources=[table_arn]),
        Statement(sid="QueryDatasetIndex", effect="Allow", actions=["dynamodb:Query"],
                  resources=[f"{table_arn}/index/{index_name}"]),
        Statement(sid="DecryptTableThroughDynamoDB", effect="Allow", actions=["kms:Decrypt"], resources=[kms_key_arn],
                  conditions={"StringEquals": {"kms:ViaService": f"dynamodb.{region}.amazonaws.com"}}),
    ]


def logging_statements(log_group_arn: str) -> list[Statement]:
    """Write into the API's own (pre-created, encrypted) log group; never create a group."""
    return [Statement(sid="WriteApiLogs", effect="Allow", actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                      resources=[log_group_arn, f"{log_group_arn}:*"])]


def _appsync_trust(*, account_id: str, source_arn: str) -> str:
    return policy_json([Statement(
        sid="AppSyncAssumeRole", effect="Allow", principals={"Service": "appsync.amazonaws.com"},
        actions=["sts:AssumeRole"],
        conditions={"StringEquals": {"aws:SourceAccount": account_id}, "ArnLike": {"aws:SourceArn": source_arn}})])


class StatusGraphqlApi(Construct):
    """An IAM-authenticated GraphQL API over the status table (see the module's notes).

    Exposes ``.api`` (``AppsyncGraphqlApi``; ``.api.uris`` holds ``GRAPHQL`` and ``REALTIME``),
    ``.log_group`` (``/aws/appsync/apis/<id>``), ``.logging_role``, ``.data_source_role``,
    ``.data_sources`` (``{"status-table": ..., "none": ...}``) and ``.resolvers``
    (``{"Query.fileStatus": ..., ...}``).

    ``page_size``/``max_page_size``: the default and largest ``limit`` of ``filesByDataset``.
    ``query_depth_limit`` 0 means no limit (AppSync's default); the schema needs 3.
    ``introspection`` off hides the schema from introspection queries (clients use :data:`SCHEMA`).
    ``create_resolvers=False`` and ``ignore_emulator_drift=True``: the emulator workarounds (module notes).
    """

    api: AppsyncGraphqlApi
    log_group: CloudwatchLogGroup
    logging_role: IamRole
    data_source_role: IamRole | None
    data_sources: dict[str, AppsyncDatasource]
    resolvers: dict[str, AppsyncResolver]

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        table_name: str,
        table_arn: str,
        kms_key_arn: str,
        region: str,
        account_id: str,
        log_retention_days: int,
        field_log_level: str = "ERROR",
        exclude_verbose_content: bool = True,
        xray_enabled: bool = False,
        introspection: bool = False,
        query_depth_limit: int = 0,
        page_size: int = 50,
        max_page_size: int = 100,
        index_name: str = STATUS_INDEX,
        create_resolvers: bool = True,
        ignore_emulator_drift: bool = False,
        tags: Mapping[str, str] | None = None,
        partition: str = "aws",
    ) -> None:
        super().__init__(scope, id)
        if field_log_level not in FIELD_LOG_LEVELS:
            raise ValueError(f"appsync {name}: field_log_level must be one of {', '.join(FIELD_LOG_LEVELS)}, "
                             f"got {field_log_level!r}")
        if not 0 <= query_depth_limit <= 75:
            raise ValueError(f"appsync {name}: query_depth_limit must be between 0 and 75, got {query_depth_limit}")
        if query_depth_limit and query_depth_limit < 3:
            raise ValueError(f"appsync {name}: query_depth_limit must be 0 (no limit) or at least 3 "
                             f"(filesByDataset {{ items {{ … }} }} is 3 deep), got {query_depth_limit}")
        query_code = query_by_dataset_code(index_name=index_name, default_limit=page_size, max_limit=max_page_size)
        tag_map = dict(tags) if tags else None
        apis_arn = f"arn:{partition}:appsync:{region}:{account_id}:apis/*"

        self.logging_role = IamRole(self, "logging-role", name=f"{name}-appsync-logs",
                                    assume_role_policy=_appsync_trust(account_id=account_id, source_arn=apis_arn),
                                    tags=tag_map)
        self.api = AppsyncGraphqlApi(
            self, "api",
            name=name,
            authentication_type="AWS_IAM",
            schema=SCHEMA,
            log_config=AppsyncGraphqlApiLogConfig(cloudwatch_logs_role_arn=self.logging_role.arn,
                                                  field_log_level=field_log_level,
                                                  exclude_verbose_content=exclude_verbose_content),
            xray_enabled=xray_enabled,
            introspection_config="ENABLED" if introspection else "DISABLED",
            query_depth_limit=query_depth_limit or None,
            visibility="GLOBAL",
            tags=tag_map,
            lifecycle=TerraformResourceLifecycle(ignore_changes=list(EMULATOR_UNREAD_ATTRIBUTES))
            if ignore_emulator_drift else None,
        )
        self.log_group = LogGroup(self, "logs", name=f"/aws/appsync/apis/{self.api.id}",
                                  retention_days=log_retention_days, kms_key_arn=kms_key_arn).log_group
        IamRolePolicy(self, "logging-policy", name=f"{name}-appsync-logs", role=self.logging_role.id,
                      policy=policy_json(logging_statements(self.log_group.arn)))

        self.data_source_role = None
        self.data_sources = {}
        self.resolvers = {}
        if not create_resolvers:
            return
        self.data_source_role = IamRole(
            self, "data-source-role", name=f"{name}-appsync-status",
            assume_role_policy=_appsync_trust(account_id=account_id, source_arn=self.api.arn), tags=tag_map)
        ds_policy = IamRolePolicy(self, "data-source-policy", name=f"{name}-appsync-status-read",
                                  role=self.data_source_role.id,
                                  policy=policy_json(data_source_statements(
                                      table_arn=table_arn, index_name=index_name, kms_key_arn=kms_key_arn,
                                      region=region)))
        self.data_sources["status-table"] = AppsyncDatasource(
            self, "status-table", api_id=self.api.id, name="status_table", type="AMAZON_DYNAMODB",
            description="The pipeline's status table (read only)",
            service_role_arn=self.data_source_role.arn,
            dynamodb_config=AppsyncDatasourceDynamodbConfig(table_name=table_name, region=region,
                                                            use_caller_credentials=False),
            depends_on=[ds_policy],
        )
        self.data_sources["none"] = AppsyncDatasource(
            self, "none", api_id=self.api.id, name="status_broadcast", type="NONE",
            description="Local resolver: publishStatus returns its input to subscribers")
        for type_name, field, source, code in (
            ("Query", "fileStatus", "status-table", get_item_code()),
            ("Query", "filesByDataset", "status-table", query_code),
            ("Mutation", MUTATION_FIELD, "none", publish_code()),
        ):
            self.resolvers[f"{type_name}.{field}"] = AppsyncResolver(
                self, f"resolver-{type_name.lower()}-{field}", api_id=self.api.id, type=type_name, field=field,
                kind="UNIT", data_source=self.data_sources[source].name, runtime=JS_RUNTIME, code=code)


def wire_appsync(scope: Construct, section: AppSyncConfig, ctx: ServiceContext) -> StatusGraphqlApi:
    """The status GraphQL API from ``[services.appsync]``.

    Outputs: ``appsync_graphql_url``, ``appsync_realtime_url``, ``appsync_api_arn``."""
    table = ctx.tables.get("status")
    if table is None:
        raise ValueError("appsync: the context has no 'status' table (the API serves the status table)")
    api = StatusGraphqlApi(
        scope, "appsync",
        name=ctx.resource_name("status-api"),
        table_name=table.name,
        table_arn=table.arn,
        kms_key_arn=ctx.kms_key_arn,
        region=ctx.region,
        account_id=ctx.account_id,
        log_retention_days=ctx.log_retention_days,
        field_log_level=section.field_log_level,
        exclude_verbose_content=section.exclude_verbose_content,
        xray_enabled=section.xray,
        introspection=section.introspection,
        query_depth_limit=section.query_depth_limit,
        page_size=section.page_size,
        max_page_size=section.max_page_size,
        create_resolvers=not ctx.on_emulator,
        ignore_emulator_drift=ctx.on_emulator,
    )
    TerraformOutput(scope, "appsync_graphql_url", value=api.api.uris.lookup("GRAPHQL"),
                    description="GraphQL endpoint of the status API (IAM/SigV4 auth)")
    TerraformOutput(scope, "appsync_realtime_url", value=f'${{lookup({api.api.fqn}.uris, "REALTIME", "")}}',  # absent on the emulator
                    description="Real-time (subscriptions) endpoint of the status API")
    TerraformOutput(scope, "appsync_api_arn", value=api.api.arn,
                    description="Grant appsync:GraphQL on <arn>/types/<Type>/fields/<field> to callers")
    return api
