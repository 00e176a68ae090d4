"""checkov's command line with one change to its ``terraform_json`` parser: policy documents
written as JSON strings are read as documents. Runs with checkov's own interpreter
(``.tools/checkov/bin/python kit/checkov_runner.py <checkov arguments>``), never with the kit's;
``kit/checkov_scan.py`` starts it.

Why: Terraform JSON holds a policy as a string (``"policy": "{\\"Version\\": ...}"``: cdktf writes
every ``policy``, ``assume_role_policy``, ``access_policies`` that way, and Terraform accepts
nothing else there). checkov's ``terraform_json`` parser keeps the string, so every check that
wants a document reports nothing at all (checkov drops UNKNOWN results): the KMS, SQS and SNS
"any principal" checks (CKV_AWS_33, CKV_AWS_168, CKV_AWS_169) and cloudsplaining's IAM checks
(CKV_AWS_286-290, CKV_AWS_355). checkov already decodes these attributes for Terraform *plan*
files (``checkov.terraform.plan_parser.RESOURCE_TYPES_JSONIFY``); this applies the same list,
plus the inline policies of queues, topics, buckets and search domains, to ``terraform_json``, so
a policy reaches the checks exactly as ``policy = jsonencode({...})`` does from HCL.
"""

from __future__ import annotations

import json
import sys
import warnings
from typing import Any

from checkov.terraform.plan_parser import RESOURCE_TYPES_JSONIFY
from checkov.terraform_json import parser

#: Resource arguments holding a policy document that checkov's plan list does not name.
INLINE_POLICIES = {
    "aws_sqs_queue": "policy",
    "aws_sns_topic": "policy",
    "aws_s3_bucket": "policy",
    "aws_opensearch_domain": "access_policies",
    "aws_elasticsearch_domain": "access_policies",
}
DOCUMENTS = {**RESOURCE_TYPES_JSONIFY, **INLINE_POLICIES}

_handle_block_type = parser.handle_block_type


def decode_documents(block_type: str, blocks: Any) -> list[dict[str, Any]]:
    """checkov's ``handle_block_type``, then each resource's JSON-string document decoded."""
    result = _handle_block_type(block_type=block_type, blocks=blocks)
    if block_type != "resource":
        return result
    for entry in result:
        for rtype, named in entry.items():
            attribute = DOCUMENTS.get(rtype)
            if attribute is None:
                continue
            for conf in named.values():
                value = conf.get(attribute)
                if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
                    try:
                        document = json.loads(value[0])
                    except ValueError:
                        continue  # not JSON (an interpolation alone): left as checkov had it
                    if isinstance(document, (dict, list)):
                        conf[attribute] = [document]
    return result


parser.handle_block_type = decode_documents

if __name__ == "__main__":
    from checkov.main import Checkov

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=SyntaxWarning)
        sys.exit(Checkov().run())
