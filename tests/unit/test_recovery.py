"""Adopting what an interrupted Terraform run created but never recorded (kit/recovery.py)."""

from __future__ import annotations

import json

from kit.recovery import (
    IMPORTS_FILE,
    Adoption,
    Context,
    Failure,
    clear_imports,
    collisions,
    failures,
    plan_adoption,
    write_imports,
)

# Terraform's human diagnostics, as the kit sees them (colours and frames included).
FRAMED = (
    "\x1b[31m╷\x1b[0m\x1b[0m\n"
    "\x1b[31m│\x1b[0m \x1b[0m\x1b[1m\x1b[31mError: \x1b[0m\x1b[0m\x1b[1mcreating IAM Role (pk-x-validate): operation error "
    "IAM: CreateRole, https response error StatusCode: 409, EntityAlreadyExists: Role with name pk-x-validate "
    "already exists.\x1b[0m\n"
    "\x1b[31m│\x1b[0m \x1b[0m\n"
    "\x1b[31m│\x1b[0m \x1b[0m\x1b[0m  with aws_iam_role.function-validate_role_ABC123,\n"
    "\x1b[31m│\x1b[0m \x1b[0m  on cdk.tf.json line 10, in resource.aws_iam_role.function-validate_role_ABC123:\n"
    "\x1b[31m╵\x1b[0m\x1b[0m\n"
    "\x1b[31m╷\x1b[0m\x1b[0m\n"
    "\x1b[31m│\x1b[0m \x1b[0m\x1b[1m\x1b[31mError: \x1b[0m\x1b[0m\x1b[1mcreating VPC Security Group Rule\x1b[0m\n"
    "\x1b[31m│\x1b[0m \x1b[0m\n"
    "\x1b[31m│\x1b[0m \x1b[0m\x1b[0m  with aws_vpc_security_group_egress_rule.net_to-s3_8F93,\n"
    "\x1b[31m│\x1b[0m \x1b[0moperation error EC2: AuthorizeSecurityGroupEgress, api error\n"
    "\x1b[31m│\x1b[0m \x1b[0mInvalidPermission.Duplicate: The specified rule already exists\n"
    "\x1b[31m╵\x1b[0m\x1b[0m\n"
    "\x1b[31m╷\x1b[0m\x1b[0m\n"
    "\x1b[31m│\x1b[0m \x1b[0m\x1b[1m\x1b[31mError: \x1b[0m\x1b[0m\x1b[1mcreating Lambda Function (pk-x-notify): "
    "InvalidParameterValueException: The role defined for the function cannot be assumed\x1b[0m\n"
    "\x1b[31m│\x1b[0m \x1b[0m\x1b[0m  with aws_lambda_function.function-notify_function_9,\n"
    "\x1b[31m╵\x1b[0m\x1b[0m\n"
)
PLAIN = (
    "Error: creating Glue Crawler (pk-x-orders-crawler): operation error Glue: CreateCrawler, "
    "AlreadyExistsException: Crawler already exists.\n"
    "\n"
    "  with aws_glue_crawler.crawler-orders_crawler_CB53,\n"
    "  on cdk.tf.json line 3, in resource.aws_glue_crawler.crawler-orders_crawler_CB53:\n"
)


def test_every_resource_diagnostic_is_read_with_its_address():
    assert [f.address for f in failures(FRAMED)] == [
        "aws_iam_role.function-validate_role_ABC123", "aws_vpc_security_group_egress_rule.net_to-s3_8F93",
        "aws_lambda_function.function-notify_function_9"]


def test_only_already_exists_collisions_are_adopted_even_when_the_aws_error_follows_the_address():
    found = collisions(FRAMED)
    assert [f.address for f in found] == ["aws_iam_role.function-validate_role_ABC123",
                                          "aws_vpc_security_group_egress_rule.net_to-s3_8F93"]


def test_uncoloured_output_is_read_too():
    (found,) = collisions(PLAIN)
    assert (found.address, found.type) == ("aws_glue_crawler.crawler-orders_crawler_CB53", "aws_glue_crawler")


def test_a_failure_without_a_resource_is_not_a_collision():
    assert collisions("Error: Failed to load plugin schemas\n\nError while loading schemas for plugin components\n") == []


def _plan(**values_by_address):
    return {"planned_values": {"root_module": {"resources": [
        {"address": a, "type": a.split(".")[0], "values": v} for a, v in values_by_address.items()]}}}


def _ctx(**clients):
    return Context(account_id="111122223333", region="eu-west-1", client=lambda service: clients[service])


def test_import_ids_come_from_the_planned_values():
    plan = _plan(**{
        "aws_iam_role.r": {"name": "pk-dev-validate"},
        "aws_glue_catalog_table.t": {"database_name": "pk_dev_clean", "name": "orders"},
        "aws_lambda_permission.p": {"function_name": "pk-dev-api", "statement_id": "apigw"},
        "aws_cloudtrail.c": {"name": "pk-dev-trail"},
    })
    found = [Failure(address=a, summary="already exists") for a in
             ("aws_iam_role.r", "aws_glue_catalog_table.t", "aws_lambda_permission.p", "aws_cloudtrail.c")]
    adoption = plan_adoption(found, plan, _ctx())
    assert adoption.imports == {
        "aws_iam_role.r": "pk-dev-validate",
        "aws_glue_catalog_table.t": "111122223333:pk_dev_clean:orders",
        "aws_lambda_permission.p": "pk-dev-api/apigw",
        "aws_cloudtrail.c": "arn:aws:cloudtrail:eu-west-1:111122223333:trail/pk-dev-trail",
    }
    assert adoption.unresolved == {}


class _Backup:
    def list_backup_plans(self):
        return {"BackupPlansList": [
            {"BackupPlanName": "pk-dev-backup", "BackupPlanId": "gone", "DeletionDate": 1.0},
            {"BackupPlanName": "pk-dev-backup", "BackupPlanId": "live-id"}]}


def test_an_id_aws_generates_is_looked_up_and_deleted_objects_are_skipped():
    adoption = plan_adoption([Failure("aws_backup_plan.p", "AlreadyExistsException")],
                             _plan(**{"aws_backup_plan.p": {"name": "pk-dev-backup"}}), _ctx(backup=_Backup()))
    assert adoption.imports == {"aws_backup_plan.p": "live-id"}


class _Ec2:
    def __init__(self, groups):
        self.groups, self.filters = groups, None

    def describe_security_groups(self, Filters):  # noqa: N803 - boto3's names
        self.filters = Filters
        return {"SecurityGroups": self.groups}


def test_a_security_group_left_by_a_killed_apply_is_found_by_name_in_its_vpc():
    ec2 = _Ec2([{"GroupId": "sg-0123", "GroupName": "pk-dev-workloads"}])
    adoption = plan_adoption([Failure("aws_security_group.w", "InvalidGroup.Duplicate")],
                             _plan(**{"aws_security_group.w": {"name": "pk-dev-workloads", "vpc_id": "vpc-9"}}),
                             _ctx(ec2=ec2))
    assert adoption.imports == {"aws_security_group.w": "sg-0123"}
    assert ec2.filters == [{"Name": "group-name", "Values": ["pk-dev-workloads"]},
                           {"Name": "vpc-id", "Values": ["vpc-9"]}]


def test_an_ambiguous_security_group_is_not_guessed():
    ec2 = _Ec2([{"GroupId": "sg-1"}, {"GroupId": "sg-2"}])
    adoption = plan_adoption([Failure("aws_security_group.w", "InvalidGroup.Duplicate")],
                             _plan(**{"aws_security_group.w": {"name": "pk-dev-workloads"}}), _ctx(ec2=ec2))
    assert adoption.imports == {}
    assert adoption.unresolved == {"aws_security_group.w": "its import ID is not known from the plan"}


def test_types_the_kit_cannot_import_are_reported_not_guessed():
    adoption = plan_adoption([Failure("aws_made_up_thing.x", "already exists"),
                              Failure("aws_iam_role.nameless", "already exists")],
                             _plan(**{"aws_iam_role.nameless": {}}), _ctx())
    assert adoption.imports == {}
    assert adoption.unresolved == {
        "aws_made_up_thing.x": "the kit does not know how to import aws_made_up_thing",
        "aws_iam_role.nameless": "its import ID is not known from the plan"}


def test_import_blocks_are_written_beside_the_stack_and_cleared(tmp_path):
    path = write_imports(tmp_path, Adoption(imports={"aws_iam_role.r": "pk-dev-validate"}, unresolved={}))
    assert path.name == IMPORTS_FILE
    assert json.loads(path.read_text()) == {"import": [{"to": "aws_iam_role.r", "id": "pk-dev-validate"}]}
    clear_imports(tmp_path)
    assert not path.exists()


class _Athena:
    def __init__(self):
        self.deleted = []

    def delete_work_group(self, WorkGroup, RecursiveDeleteOption):  # noqa: N803 - boto3's names
        self.deleted.append(WorkGroup)


def test_on_the_emulator_an_orphan_it_cannot_update_is_deleted_to_be_created_afresh():
    athena = _Athena()
    plan = _plan(**{"aws_athena_workgroup.w": {"name": "pk-local-analytics"}})
    found = [Failure("aws_athena_workgroup.w", "WorkGroup already exists")]
    adoption = plan_adoption(found, plan, _ctx(athena=athena), on_emulator=True)
    assert (adoption.imports, adoption.deleted, athena.deleted) == ({}, ("aws_athena_workgroup.w",),
                                                                   ["pk-local-analytics"])
    on_aws = plan_adoption(found, plan, _ctx(athena=athena))
    assert on_aws.imports == {"aws_athena_workgroup.w": "pk-local-analytics"}


class _FakeTerraform:
    """What untaint_data_stores uses of kit.terraform.Terraform: `state pull` and `untaint`."""

    def __init__(self, state):
        self.state, self.calls = state, []

    def run(self, *args, capture=False):
        import subprocess

        self.calls.append(args)
        out = json.dumps(self.state) if args[:2] == ("state", "pull") else ""
        return subprocess.CompletedProcess(args, 0, out, "")


def test_tainted_data_stores_are_untainted_before_planning_and_nothing_else():
    from kit.deploy import untaint_data_stores

    state = {"resources": [
        {"mode": "managed", "type": "aws_kms_key", "name": "key", "instances": [{"status": "tainted"}]},
        {"mode": "managed", "type": "aws_s3_bucket", "name": "b", "instances": [{}]},
        {"mode": "managed", "type": "aws_vpc", "name": "net", "instances": [{"status": "tainted"}]},
        {"mode": "data", "type": "aws_iam_policy_document", "name": "d", "instances": [{"status": "tainted"}]},
    ]}
    tf = _FakeTerraform(state)
    assert untaint_data_stores(tf) == ["aws_kms_key.key"]
    assert tf.calls[1:] == [("untaint", "aws_kms_key.key")]  # the VPC is replaced as Terraform plans it
