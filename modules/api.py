"""API Gateway (REST) in front of one Lambda function (proxy integration).

``RestApi`` builds, from a list of ``(method, path)`` routes (API Gateway notation, ``{name}`` for
a path parameter): the resource tree, one method per route with IAM authorisation by default, an
``AWS_PROXY`` integration to the function, JSON Schema models and request validators for the
routes given a body schema, gateway responses that explain a refused body or parameter as
``{"message": ..., "details": ...}``, a deployment that is replaced whenever the routes, methods,
integrations, models or gateway responses change (``triggers``), a stage with JSON access logs
and X-Ray, method settings for every method (throttling, metrics, execution logging), and the
Lambda permissions that let exactly this API's stage and routes invoke the function.

**Binary media types.** ``binary_media_types`` (e.g. ``text/csv``, ``application/x-ndjson``) are
the request content types API Gateway hands to the function byte for byte, base64-encoded with
``isBase64Encoded: true`` in the proxy event (other bodies arrive as text, and API Gateway decodes
them as UTF-8 itself, so a function cannot tell a body that was not UTF-8). They are a setting of
the API that takes effect with a new deployment, so they are part of the deployment's triggers.

**CloudWatch role.** Execution logging (``execution_logging_level`` INFO/ERROR) *and* access
logging need the account-level API Gateway setting "CloudWatch log role ARN" (one per account and
region); without it, applying the stage fails with "CloudWatch Logs role ARN must be set in account
settings to enable logging". Give ``cloudwatch_role_arn`` (a role trusting apigateway.amazonaws.com
allowed to write the account's API Gateway log groups; ``make bootstrap`` creates one with a scoped
inline policy, ``kit/bootstrap.py``) to have this construct set it
(``aws_api_gateway_account``); leave it ``None`` when the account is already configured, e.g. by
another stack in the same account and region (two stacks managing the same singleton would fight).
API Gateway writes execution logs to ``API-Gateway-Execution-Logs_<api id>/<stage>``, a group it
creates itself with no retention: ``.execution_log_group_name`` gives the name to pre-create it.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Mapping, Sequence

from cdktf import Fn, TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.api_gateway_account import ApiGatewayAccount
from cdktf_cdktf_provider_aws.api_gateway_deployment import ApiGatewayDeployment
from cdktf_cdktf_provider_aws.api_gateway_gateway_response import ApiGatewayGatewayResponse
from cdktf_cdktf_provider_aws.api_gateway_integration import ApiGatewayIntegration
from cdktf_cdktf_provider_aws.api_gateway_method import ApiGatewayMethod
from cdktf_cdktf_provider_aws.api_gateway_method_settings import (
    ApiGatewayMethodSettings,
    ApiGatewayMethodSettingsSettings,
)
from cdktf_cdktf_provider_aws.api_gateway_model import ApiGatewayModel
from cdktf_cdktf_provider_aws.api_gateway_request_validator import ApiGatewayRequestValidator
from cdktf_cdktf_provider_aws.api_gateway_resource import ApiGatewayResource
from cdktf_cdktf_provider_aws.api_gateway_rest_api import (
    ApiGatewayRestApi,
    ApiGatewayRestApiEndpointConfiguration,
)
from cdktf_cdktf_provider_aws.api_gateway_stage import ApiGatewayStage, ApiGatewayStageAccessLogSettings
from cdktf_cdktf_provider_aws.lambda_permission import LambdaPermission
from constructs import Construct

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
AUTHORIZATIONS = ("AWS_IAM", "NONE")
LOGGING_LEVELS = ("OFF", "ERROR", "INFO")
#: API Gateway's longest integration timeout (without a quota increase).
MAX_INTEGRATION_TIMEOUT_MS = 29_000
_STATIC_SEGMENT = re.compile(r"^[A-Za-z0-9._-]+$")
_PARAM_SEGMENT = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_STAGE_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_MEDIA_TYPE_RE = re.compile(r"^[A-Za-z0-9*][A-Za-z0-9!#$&^_.+*-]*/[A-Za-z0-9*][A-Za-z0-9!#$&^_.+*-]*$")

#: One JSON object per request in the access log group. ``$context.error.messageString`` is
#: already a quoted JSON string; the other values are quoted here.
_ACCESS_LOG_FIELDS = (
    ("requestId", "$context.requestId"),
    ("extendedRequestId", "$context.extendedRequestId"),
    ("requestTime", "$context.requestTime"),
    ("httpMethod", "$context.httpMethod"),
    ("resourcePath", "$context.resourcePath"),
    ("path", "$context.path"),
    ("status", "$context.status"),
    ("protocol", "$context.protocol"),
    ("responseLength", "$context.responseLength"),
    ("responseLatency", "$context.responseLatency"),
    ("integrationLatency", "$context.integrationLatency"),
    ("integrationStatus", "$context.integrationStatus"),
    ("sourceIp", "$context.identity.sourceIp"),
    ("userAgent", "$context.identity.userAgent"),
    ("caller", "$context.identity.caller"),
    ("userArn", "$context.identity.userArn"),
)
ACCESS_LOG_FORMAT = (
    "{" + ",".join(f'"{k}":"{v}"' for k, v in _ACCESS_LOG_FIELDS) + ',"errorMessage":$context.error.messageString}'
)

#: Refusals by the gateway's own request validation, as JSON the caller can act on.
GATEWAY_RESPONSES: dict[str, str] = {
    "BAD_REQUEST_BODY": '{"message":$context.error.messageString,"details":"$context.error.validationErrorString"}',
    "BAD_REQUEST_PARAMETERS": (
        '{"message":$context.error.messageString,"details":"$context.error.validationErrorString"}'
    ),
}


def _split(path: str) -> list[str]:
    return [s for s in path.split("/") if s]


def _check_route(method: str, path: str) -> None:
    if method not in METHODS:
        raise ValueError(f"route {method} {path}: unknown method (allowed: {', '.join(METHODS)})")
    if not path.startswith("/") or (path != "/" and path.endswith("/")) or "//" in path:
        raise ValueError(f"route {method} {path}: a path starts with '/' and has no empty segment")
    for segment in _split(path):
        if not (_STATIC_SEGMENT.fullmatch(segment) or _PARAM_SEGMENT.fullmatch(segment)):
            raise ValueError(
                f"route {method} {path}: segment {segment!r} must be letters, digits, '.', '_', '-' or a {{parameter}}"
            )


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-") or "root"


def _camel(method: str, path: str) -> str:
    words = [method.lower()] + re.findall(r"[A-Za-z0-9]+", path)
    return "".join(w[:1].upper() + w[1:] for w in words)


def source_arn_path(method: str, path: str) -> str:
    """The ``<METHOD><path>`` part of an execute-api ARN, path parameters as ``*``."""
    parts = ["*" if _PARAM_SEGMENT.fullmatch(s) else s for s in _split(path)]
    return f"{method}/{'/'.join(parts)}"


class RestApi(Construct):
    """A REST API (``.api``) proxying ``routes`` to one function, deployed (``.deployment``) to
    ``.stage`` and reachable at ``.invoke_url``.

    Also exposed: ``.resources`` (path → resource), ``.methods`` / ``.integrations`` ((method, path)
    → resource), ``.models`` and ``.validators`` (for routes with a request schema),
    ``.gateway_responses``, ``.method_settings``, ``.permissions``, ``.account`` (or None),
    ``.execution_arn`` and ``.execution_log_group_name``."""

    api: ApiGatewayRestApi
    stage: ApiGatewayStage
    deployment: ApiGatewayDeployment
    invoke_url: str

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        function_arn: str,
        function_name: str,
        routes: Sequence[tuple[str, str]],
        throttling_rate_limit: float,
        throttling_burst_limit: int,
        access_log_group_arn: str,
        authorization: str = "AWS_IAM",
        stage_name: str = "v1",
        request_models: Mapping[tuple[str, str], Mapping[str, Any]] | None = None,
        function_invoke_arn: str | None = None,
        cloudwatch_role_arn: str | None = None,
        execution_logging_level: str = "INFO",
        metrics_enabled: bool = True,
        xray_tracing_enabled: bool = True,
        integration_timeout_ms: int = MAX_INTEGRATION_TIMEOUT_MS,
        description: str | None = None,
        binary_media_types: Sequence[str] = (),
        ignore_binary_media_type_changes: bool = False,
    ) -> None:
        super().__init__(scope, id)
        routes = [(m.upper(), p) for m, p in routes]
        request_models = {(m.upper(), p): s for (m, p), s in (request_models or {}).items()}
        if not routes:
            raise ValueError(f"REST API {name}: at least one route is required")
        for method, path in routes:
            _check_route(method, path)
        if len(set(routes)) != len(routes):
            raise ValueError(f"REST API {name}: a route is listed twice in {routes}")
        for key in request_models:
            if key not in routes:
                raise ValueError(f"REST API {name}: request model for {key[0]} {key[1]}, which is not a route")
        if authorization not in AUTHORIZATIONS:
            raise ValueError(
                f"REST API {name}: authorization must be one of {', '.join(AUTHORIZATIONS)}, got {authorization!r}"
            )
        if execution_logging_level not in LOGGING_LEVELS:
            raise ValueError(
                f"REST API {name}: execution_logging_level must be one of {', '.join(LOGGING_LEVELS)}, "
                f"got {execution_logging_level!r}"
            )
        if not throttling_rate_limit > 0 or throttling_burst_limit < 1:
            raise ValueError(
                f"REST API {name}: throttling needs a rate limit > 0 and a burst limit >= 1, "
                f"got {throttling_rate_limit} / {throttling_burst_limit}"
            )
        binary_media_types = list(dict.fromkeys(binary_media_types))
        for media_type in binary_media_types:
            if not _MEDIA_TYPE_RE.fullmatch(media_type):
                raise ValueError(f"REST API {name}: binary media type {media_type!r} must look like type/subtype")
        if not _STAGE_RE.fullmatch(stage_name):
            raise ValueError(f"REST API {name}: stage name {stage_name!r} must be 1-128 of A-Z, a-z, 0-9, '_', '-'")
        if not 50 <= integration_timeout_ms <= MAX_INTEGRATION_TIMEOUT_MS:
            raise ValueError(
                f"REST API {name}: integration_timeout_ms must be 50..{MAX_INTEGRATION_TIMEOUT_MS}, "
                f"got {integration_timeout_ms}"
            )

        self.api = ApiGatewayRestApi(
            self, "api",
            name=name,
            description=description or f"{name} (Lambda proxy, {authorization} authorisation)",
            endpoint_configuration=ApiGatewayRestApiEndpointConfiguration(types=["REGIONAL"]),
            binary_media_types=binary_media_types or None,
            # A replaced API (new name or endpoint type) is up before the old one goes: callers
            # keep an API to reach (checkov CKV_AWS_237).
            # ``ignore_binary_media_type_changes``: for the emulator, which drops the list (the
            # next plan would update it for ever); AWS keeps it.
            lifecycle=TerraformResourceLifecycle(
                create_before_destroy=True,
                ignore_changes=["binary_media_types"] if ignore_binary_media_type_changes else None),
        )
        self.execution_arn = self.api.execution_arn
        self.execution_log_group_name = f"API-Gateway-Execution-Logs_{self.api.id}/{stage_name}"
        if function_invoke_arn is None:
            arn_parts = Fn.split(":", function_arn)
            function_invoke_arn = (
                f"arn:{Fn.element(arn_parts, 1)}:apigateway:{Fn.element(arn_parts, 3)}:lambda:path/2015-03-31/"
                f"functions/{function_arn}/invocations"
            )

        # resources: one per distinct path prefix
        self.resources: dict[str, ApiGatewayResource] = {}
        for _method, path in routes:
            parts = _split(path)
            for depth in range(1, len(parts) + 1):
                sub = "/" + "/".join(parts[:depth])
                if sub in self.resources:
                    continue
                parent = "/" + "/".join(parts[: depth - 1])
                self.resources[sub] = ApiGatewayResource(
                    self, f"resource-{_slug(sub)}",
                    rest_api_id=self.api.id,
                    parent_id=self.api.root_resource_id if parent == "/" else self.resources[parent].id,
                    path_part=parts[depth - 1],
                )

        # validators and models
        self.validators: dict[str, ApiGatewayRequestValidator] = {}
        self.models: dict[tuple[str, str], ApiGatewayModel] = {}
        if request_models:
            self.validators["body-and-parameters"] = ApiGatewayRequestValidator(
                self, "validate-body-and-parameters",
                rest_api_id=self.api.id, name="body-and-parameters",
                validate_request_body=True, validate_request_parameters=True,
            )
        if any(_PARAM_SEGMENT.fullmatch(s) for route in routes if route not in request_models for s in _split(route[1])):
            self.validators["parameters"] = ApiGatewayRequestValidator(
                self, "validate-parameters",
                rest_api_id=self.api.id, name="parameters",
                validate_request_body=False, validate_request_parameters=True,
            )
        for (method, path), schema in request_models.items():
            self.models[(method, path)] = ApiGatewayModel(
                self, f"model-{method.lower()}-{_slug(path)}",
                rest_api_id=self.api.id,
                name=f"{_camel(method, path)}Body",
                content_type="application/json",
                description=f"request body of {method} {path}",
                schema=json.dumps(schema, sort_keys=True, separators=(",", ":")),
            )

        # methods and their proxy integrations
        self.methods: dict[tuple[str, str], ApiGatewayMethod] = {}
        self.integrations: dict[tuple[str, str], ApiGatewayIntegration] = {}
        for method, path in routes:
            key = (method, path)
            params = [m.group(1) for s in _split(path) if (m := _PARAM_SEGMENT.fullmatch(s))]
            resource_id = self.api.root_resource_id if path == "/" else self.resources[path].id
            if key in self.models:
                validator = self.validators["body-and-parameters"]
            else:
                validator = self.validators.get("parameters") if params else None
            slug = f"{method.lower()}-{_slug(path)}"
            self.methods[key] = ApiGatewayMethod(
                self, f"method-{slug}",
                rest_api_id=self.api.id,
                resource_id=resource_id,
                http_method=method,
                authorization=authorization,
                request_parameters={f"method.request.path.{p}": True for p in params} or None,
                request_validator_id=validator.id if validator is not None else None,
                request_models={"application/json": self.models[key].name} if key in self.models else None,
            )
            self.integrations[key] = ApiGatewayIntegration(
                self, f"integration-{slug}",
                rest_api_id=self.api.id,
                resource_id=resource_id,
                http_method=self.methods[key].http_method,
                type="AWS_PROXY",
                integration_http_method="POST",
                uri=function_invoke_arn,
                timeout_milliseconds=integration_timeout_ms,
            )

        self.gateway_responses: dict[str, ApiGatewayGatewayResponse] = {
            response_type: ApiGatewayGatewayResponse(
                self, f"response-{_slug(response_type.lower())}",
                rest_api_id=self.api.id,
                response_type=response_type,
                status_code="400",
                response_templates={"application/json": template},
            )
            for response_type, template in GATEWAY_RESPONSES.items()
        }

        # deployment: replaced when anything it serves changes
        static = json.dumps(
            {
                "routes": sorted(routes),
                "authorization": authorization,
                "models": {f"{m} {p}": s for (m, p), s in sorted(request_models.items())},
                "gateway_responses": GATEWAY_RESPONSES,
                "integration_timeout_ms": integration_timeout_ms,
                "binary_media_types": sorted(binary_media_types),
            },
            sort_keys=True,
        )
        tracked = (
            [r.id for r in self.resources.values()]
            + [m.id for m in self.methods.values()]
            + [i.id for i in self.integrations.values()]
            + [i.uri for i in self.integrations.values()]
            + [m.id for m in self.models.values()]
            + [v.id for v in self.validators.values()]
            + [g.id for g in self.gateway_responses.values()]
        )
        self.deployment = ApiGatewayDeployment(
            self, "deployment",
            rest_api_id=self.api.id,
            description=f"{name} routes",
            triggers={
                "configuration": hashlib.sha256(static.encode()).hexdigest(),
                "resources": Fn.sha1(Fn.jsonencode(tracked)),
            },
            lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
            depends_on=[*self.methods.values(), *self.integrations.values(), *self.gateway_responses.values()],
        )

        self.account: ApiGatewayAccount | None = None
        if cloudwatch_role_arn is not None:
            self.account = ApiGatewayAccount(self, "account", cloudwatch_role_arn=cloudwatch_role_arn)
        account_dependency = [self.account] if self.account is not None else None

        self.stage = ApiGatewayStage(
            self, "stage",
            rest_api_id=self.api.id,
            deployment_id=self.deployment.id,
            stage_name=stage_name,
            description=f"{name} {stage_name}",
            xray_tracing_enabled=xray_tracing_enabled,
            access_log_settings=ApiGatewayStageAccessLogSettings(
                destination_arn=access_log_group_arn, format=ACCESS_LOG_FORMAT,
            ),
            depends_on=account_dependency,
        )
        self.invoke_url = self.stage.invoke_url
        self.method_settings = ApiGatewayMethodSettings(
            self, "method-settings",
            rest_api_id=self.api.id,
            stage_name=self.stage.stage_name,
            method_path="*/*",
            settings=ApiGatewayMethodSettingsSettings(
                metrics_enabled=metrics_enabled,
                logging_level=execution_logging_level,
                data_trace_enabled=False,  # full request/response logging would write bodies (and PII)
                throttling_rate_limit=throttling_rate_limit,
                throttling_burst_limit=throttling_burst_limit,
            ),
            depends_on=account_dependency,
        )

        # invoke permission: this API, this stage, these routes only
        self.permissions: dict[tuple[str, str], LambdaPermission] = {
            (method, path): LambdaPermission(
                self, f"permission-{method.lower()}-{_slug(path)}",
                statement_id=f"apigateway-{_slug(name)}-{method.lower()}-{_slug(path)}"[:100],
                action="lambda:InvokeFunction",
                function_name=function_name,
                principal="apigateway.amazonaws.com",
                source_arn=f"{self.api.execution_arn}/{stage_name}/{source_arn_path(method, path)}",
            )
            for method, path in routes
        }
