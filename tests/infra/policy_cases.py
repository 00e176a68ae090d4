"""A small Terraform JSON stack, made here, holding one of each bad case the policy scan must
catch (issue 13), each as its own resource so a test can name what catches it; and their
bounded twins, which must pass. Policies are JSON strings, as cdktf writes them."""

from __future__ import annotations

import json
from typing import Any

QUEUE_ARN = "${aws_sqs_queue.queue.arn}"


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _role(name: str) -> dict[str, Any]:
    return {"name": name, "assume_role_policy": document(
        {"Sid": "Lambda", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
         "Action": "sts:AssumeRole"})}


def bad_stack() -> dict[str, Any]:
    """Every bad case, under the logical ids ``BAD`` maps to what the kit reports."""
    any_principal = {"Effect": "Allow", "Principal": "*"}
    return {"resource": {
        "aws_iam_role": {"role": _role("r")},
        "aws_iam_role_policy_attachment": {
            "admin": {"role": "${aws_iam_role.role.name}", "policy_arn": "arn:aws:iam::aws:policy/AdministratorAccess"},
        },
        "aws_iam_policy": {
            "star": {"name": "star", "policy": document({"Sid": "Everything", "Effect": "Allow", "Action": "*",
                                                          "Resource": "*"})},
        },
        "aws_iam_role_policy": {
            "not-action": {"name": "n", "role": "${aws_iam_role.role.id}", "policy": document(
                {"Sid": "AllButIam", "Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})},
            "star-resource": {"name": "s", "role": "${aws_iam_role.role.id}", "policy": document(
                {"Sid": "AnyObject", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})},
        },
        "aws_security_group": {
            "open": {"name": "open", "description": "open", "vpc_id": "vpc-0123456789abcdef0",
                     "ingress": [{"description": "https", "from_port": 443, "to_port": 443, "protocol": "tcp",
                                  "cidr_blocks": ["0.0.0.0/0"]}],
                     "egress": [{"description": "all", "from_port": 0, "to_port": 0, "protocol": "-1",
                                 "ipv6_cidr_blocks": ["::/0"]}]},
        },
        "aws_security_group_rule": {
            "open-rule": {"type": "ingress", "description": "ssh", "from_port": 22, "to_port": 22, "protocol": "tcp",
                          "cidr_blocks": ["0.0.0.0/0"], "security_group_id": "${aws_security_group.open.id}"},
        },
        "aws_vpc_security_group_ingress_rule": {
            "open-v4": {"security_group_id": "${aws_security_group.open.id}", "description": "rdp",
                        "cidr_ipv4": "0.0.0.0/0", "from_port": 3389, "to_port": 3389, "ip_protocol": "tcp"},
        },
        "aws_vpc_security_group_egress_rule": {
            "open-v6": {"security_group_id": "${aws_security_group.open.id}", "description": "all",
                        "cidr_ipv6": "::/0", "ip_protocol": "-1"},
        },
        "aws_lambda_function": {
            "fn": {"function_name": "fn", "role": "${aws_iam_role.role.arn}", "handler": "handler.main",
                   "runtime": "python3.12", "s3_bucket": "artifacts", "s3_key": "fn.zip",
                   "tracing_config": {"mode": "Active"}},
        },
        "aws_lambda_function_url": {
            "public-url": {"function_name": "${aws_lambda_function.fn.function_name}", "authorization_type": "NONE"},
        },
        "aws_lambda_permission": {
            "anyone": {"action": "lambda:InvokeFunction", "function_name": "${aws_lambda_function.fn.function_name}",
                       "principal": "*", "statement_id": "anyone"},
        },
        "aws_sqs_queue": {"queue": {"name": "q-dlq", "kms_master_key_id": "alias/k"}},
        "aws_sqs_queue_policy": {
            "public-queue": {"queue_url": "${aws_sqs_queue.queue.url}", "policy": document(
                {"Sid": "Anyone", **any_principal, "Action": "sqs:SendMessage", "Resource": QUEUE_ARN})},
        },
        "aws_sns_topic": {"topic": {"name": "t", "kms_master_key_id": "alias/k"}},
        "aws_sns_topic_policy": {
            # the default SNS topic policy: only AWS:SourceOwner "limits" Principal "*"
            "owner-only-topic": {"arn": "${aws_sns_topic.topic.arn}", "policy": document(
                {"Sid": "AccountPrincipals", "Effect": "Allow", "Principal": {"AWS": "*"},
                 "Action": ["SNS:Publish", "SNS:SetTopicAttributes", "SNS:DeleteTopic"],
                 "Resource": "${aws_sns_topic.topic.arn}",
                 "Condition": {"StringEquals": {"AWS:SourceOwner": "111111111111"}}})},
        },
        "aws_s3_bucket_policy": {
            "public-bucket": {"bucket": "${aws_s3_bucket.bucket.id}", "policy": document(
                {"Sid": "Anyone", **any_principal, "Action": "s3:GetObject",
                 "Resource": "${aws_s3_bucket.bucket.arn}/*"})},
        },
        "aws_s3_bucket": {"bucket": {"bucket": "b"}},
        "aws_kms_key": {
            "key": {"description": "k", "enable_key_rotation": True, "policy": document(
                {"Sid": "Anyone", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt",
                 "Resource": "*"})},
        },
    }}


#: What the kit's rules report for each bad case (``<address>: <rule>``).
BAD = {
    "AdministratorAccess attachment":
        "aws_iam_role_policy_attachment.admin: AWS-managed policy AdministratorAccess attached "
        "(not in AWS_MANAGED_POLICIES)",
    'managed policy with Action "*"': "aws_iam_policy.star: wildcard action * in statement Everything",
    'managed policy with Resource "*"': 'aws_iam_policy.star: "*" resource in statement Everything',
    'NotAction + Resource "*"':
        "aws_iam_role_policy.not-action: NotAction in Allow statement AllButIam (grants every other action)",
    '"*" resource for a resource-level action': 'aws_iam_role_policy.star-resource: "*" resource in statement AnyObject',
    "security group ingress block 0.0.0.0/0": "aws_security_group.open: ingress open to 0.0.0.0/0",
    "security group egress block ::/0": "aws_security_group.open: egress open to ::/0",
    "aws_security_group_rule 0.0.0.0/0": "aws_security_group_rule.open-rule: ingress open to 0.0.0.0/0",
    "aws_vpc_security_group_ingress_rule 0.0.0.0/0":
        "aws_vpc_security_group_ingress_rule.open-v4: ingress open to 0.0.0.0/0",
    "aws_vpc_security_group_egress_rule ::/0": "aws_vpc_security_group_egress_rule.open-v6: egress open to ::/0",
    "public function URL": "aws_lambda_function_url.public-url: public function URL (authorization_type NONE)",
    'Lambda permission for "*"': 'aws_lambda_permission.anyone: Lambda permission for principal "*"',
    'SQS policy Principal "*"':
        'aws_sqs_queue_policy.public-queue: Principal "*" in statement Anyone without a condition on the '
        "caller's account/organisation or the source ARN/account",
    'SNS policy Principal "*" bounded by AWS:SourceOwner only':
        'aws_sns_topic_policy.owner-only-topic: Principal "*" in statement AccountPrincipals without a condition '
        "on the caller's account/organisation or the source ARN/account",
    'S3 policy Principal "*"':
        'aws_s3_bucket_policy.public-bucket: Principal "*" in statement Anyone without a condition on the '
        "caller's account/organisation or the source ARN/account",
    'KMS key policy Principal "*"': 'aws_kms_key.key: key policy allows Principal "*" in statement Anyone',
}

#: What checkov (after the kit's preparation) reports for the bad cases it has a check for:
#: ``{(check id, address)}``. The first three read policies written as JSON strings as documents.
CHECKOV_BAD = {
    ("CKV_AWS_33", "aws_kms_key.key"),                          # KMS key policy Principal "*"
    ("CKV_AWS_168", "aws_sqs_queue_policy.public-queue"),      # SQS policy Principal "*"
    ("CKV_AWS_355", "aws_iam_role_policy.star-resource"),      # "*" resource for a restrictable action
    ("CKV_AWS_63", "aws_iam_policy.star"),                      # Action "*"
    ("CKV_AWS_274", "aws_iam_role_policy_attachment.admin"),    # AdministratorAccess
    ("CKV_AWS_70", "aws_s3_bucket_policy.public-bucket"),       # S3 policy Principal "*"
    ("CKV_AWS_258", "aws_lambda_function_url.public-url"),      # function URL without auth
    ("CKV_AWS_301", "aws_lambda_permission.anyone"),            # Lambda permission for "*"
}
