"""Call an AppSync GraphQL API with IAM (SigV4) authentication: no API key, no secret.

Used by the status writer (notify) to announce each status to the optional AppSync API's
subscribers (``[services.appsync]``): AppSync subscriptions fire on mutations, so the writer calls
``publishStatus`` after writing the status table. The credentials are the function's (or job's)
own role; the role may call that one mutation field only.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from .wiring import env

if TYPE_CHECKING:
    import urllib.request

#: Set by the stack when the status API is switched on; absent → nothing is published.
URL_VARIABLE = env.STATUS_GRAPHQL_URL
TIMEOUT_SECONDS = 5.0

PUBLISH_STATUS = """\
mutation PublishStatus($input: FileStatusInput!) {
  publishStatus(input: $input) { file_id dataset status updated_at }
}"""

#: Status-item attributes the API's FileStatusInput declares as AWSJSON (JSON text on the wire).
_JSON_FIELDS = ("counts", "locations")


class GraphqlError(RuntimeError):
    """The API answered with errors (or not at all)."""


def status_url() -> str | None:
    return os.environ.get(URL_VARIABLE) or None


def publish_status_request(item: dict[str, Any]) -> dict[str, Any]:
    """The ``publishStatus`` request for one status item (plain values, as the table holds them)."""
    fields = {k: (json.dumps(v, sort_keys=True, separators=(",", ":")) if k in _JSON_FIELDS else v)
              for k, v in item.items() if v is not None}
    return {"query": PUBLISH_STATUS, "variables": {"input": fields}}


def signed_request(url: str, body: dict[str, Any], *, region: str, credentials: Any) -> urllib.request.Request:
    """A POST of ``body`` to ``url`` signed with SigV4 for the ``appsync`` service."""
    import urllib.request  # here, not at import: it loads http.client and ssl, a large share of a cold start

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    data = json.dumps(body, separators=(",", ":")).encode("utf-8")
    request = AWSRequest(method="POST", url=url, data=data, headers={"Content-Type": "application/json"})
    SigV4Auth(credentials, "appsync", region).add_auth(request)
    return urllib.request.Request(url, data=data, headers=dict(request.headers.items()), method="POST")


def post(url: str, body: dict[str, Any], *, region: str | None = None, credentials: Any = None) -> dict[str, Any]:
    """POST a signed GraphQL request; the ``data`` of the answer, or :class:`GraphqlError`."""
    import urllib.request

    if credentials is None:
        import boto3

        session = boto3.session.Session()
        credentials = session.get_credentials().get_frozen_credentials()
        region = region or session.region_name
    request = signed_request(url, body, region=region or os.environ.get("AWS_REGION", "us-east-1"),
                             credentials=credentials)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 (https URL from config)
            answer = json.loads(response.read().decode("utf-8"))
    except (OSError, ValueError) as exc:
        raise GraphqlError(f"{url}: {exc}") from exc
    if answer.get("errors"):
        raise GraphqlError(f"{url}: {answer['errors']}")
    return answer.get("data") or {}
