"""`local` deployed for real: kit → Terraform → moto server over HTTP, checked over boto3."""

from __future__ import annotations

import json
import time
from urllib.parse import unquote_plus

from names import PREFIX, bucket


def test_deploy_reports_each_step_and_applies(deployed):
    kit, proc = deployed
    assert "==> [1/7] emulator already running" in proc.stdout
    assert "==> [2/7] publish release" in proc.stdout
    assert "==> [3/7] synthesize local with release" in proc.stdout
    assert "==> [6/7] terraform apply (the saved plan)" in proc.stdout
    assert "Apply complete!" in proc.stdout
    assert "==> [7/7] smoke test: a sample file through local" in proc.stdout
    assert "(smoke passed) — deployed in" in proc.stdout


def test_buckets_are_kms_encrypted(deployed):
    kit, _ = deployed
    s3 = kit.client("s3")
    for purpose in ("landing", "clean", "quarantine", "archive", "athena-results", "audit"):
        rule = s3.get_bucket_encryption(Bucket=bucket(purpose))["ServerSideEncryptionConfiguration"]["Rules"][0]
        assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms", purpose
        assert ":key/" in rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"], purpose


def test_buckets_are_versioned_and_private(deployed):
    kit, _ = deployed
    s3 = kit.client("s3")
    for purpose in ("landing", "clean", "quarantine", "archive"):
        assert s3.get_bucket_versioning(Bucket=bucket(purpose))["Status"] == "Enabled"
        block = s3.get_public_access_block(Bucket=bucket(purpose))["PublicAccessBlockConfiguration"]
        assert all(block.values()), (purpose, block)


def test_archive_lifecycle_moves_to_glacier_then_expires(deployed):
    kit, _ = deployed
    rules = kit.client("s3").get_bucket_lifecycle_configuration(Bucket=bucket("archive"))["Rules"]
    glacier = next(r for r in rules if r["ID"] == "archive-to-glacier")
    assert glacier["Transitions"][0]["StorageClass"] == "GLACIER"
    assert glacier["Transitions"][0]["Days"] == 30
    assert glacier["Expiration"]["Days"] == 60


def test_stage_queue_redrives_to_its_dlq(deployed):
    kit, _ = deployed
    sqs = kit.client("sqs")
    url = sqs.get_queue_url(QueueName=f"{PREFIX}-validate")["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    redrive = json.loads(attrs["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith(f":{PREFIX}-validate-dlq")
    assert int(redrive["maxReceiveCount"]) == 3
    assert int(attrs["VisibilityTimeout"]) == 6 * 120  # six times validate's timeout
    assert attrs["KmsMasterKeyId"]


def test_object_put_into_landing_arrives_on_first_stage_queue(deployed):
    kit, _ = deployed
    s3, sqs = kit.client("s3"), kit.client("sqs")
    url = sqs.get_queue_url(QueueName=f"{PREFIX}-validate")["QueueUrl"]
    sqs.purge_queue(QueueUrl=url)  # drops the s3:TestEvent sent when the notification was applied
    key = "orders/2026/11/22/orders 1.csv"
    s3.put_object(Bucket=bucket("landing"), Key=key, Body=b"order_id,amount\n1,2.50\n")
    records = []
    deadline = time.monotonic() + 10
    while not records and time.monotonic() < deadline:
        for msg in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])  # keep the pipeline's queue clean
            body = json.loads(msg["Body"])
            records += [r for r in body.get("Records", []) if r["eventName"].startswith("ObjectCreated")]
    assert len(records) == 1
    assert records[0]["s3"]["bucket"]["name"] == bucket("landing")
    assert unquote_plus(records[0]["s3"]["object"]["key"]) == key


def test_tables_have_ttl_and_pitr(deployed):
    kit, _ = deployed
    ddb = kit.client("dynamodb")
    assert ddb.describe_time_to_live(TableName=f"{PREFIX}-status")["TimeToLiveDescription"]["AttributeName"] == "expires_at"
    assert ddb.describe_time_to_live(TableName=f"{PREFIX}-idempotency")["TimeToLiveDescription"]["AttributeName"] == "expiration"
    pitr = ddb.describe_continuous_backups(TableName=f"{PREFIX}-status")["ContinuousBackupsDescription"]
    assert pitr["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"




def test_each_plugin_is_deployed_with_its_wiring(deployed):
    kit, _ = deployed
    lam = kit.client("lambda")
    for plugin, produces in (("validate", ("CLEANSE", "NOTIFY")), ("cleanse", ("ARCHIVE",)),
                             ("archive", ("NOTIFY",)), ("notify", ())):
        conf = lam.get_function_configuration(FunctionName=f"{PREFIX}-{plugin}")
        assert conf["Runtime"] == "python3.12"
        assert conf["Handler"] == "handler.lambda_handler"
        env = conf["Environment"]["Variables"]
        assert env["POWERTOOLS_SERVICE_NAME"] == plugin
        assert {k for k in env if k.startswith("PIPELINE_QUEUE_")} == {f"PIPELINE_QUEUE_{p}" for p in produces}
        assert any(":layer:pk-local-powertools:" in layer["Arn"] for layer in conf["Layers"])


def test_event_source_mappings_exist_disabled_on_the_emulator(deployed):
    kit, _ = deployed
    every = kit.client("lambda").list_event_source_mappings()["EventSourceMappings"]
    mappings = [m for m in every if m["FunctionArn"].endswith(f":function:{PREFIX}-validate")]
    assert len(mappings) == 1
    assert mappings[0]["EventSourceArn"].endswith(f":{PREFIX}-validate")
    assert mappings[0]["State"] in ("Disabled", "Disabling")
    assert mappings[0]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_role_policy_names_no_wildcard_action_or_resource(deployed):
    """"*" only for actions AWS authorises on "*" alone (X-Ray, the VPC describes), alone in
    their statement; Deny statements (the function code's own VPC calls) are not grants."""
    from kit.policy_scan import NO_RESOURCE_LEVEL_ACTIONS

    kit, _ = deployed
    iam = kit.client("iam")
    doc = iam.get_role_policy(RoleName=f"{PREFIX}-cleanse-role", PolicyName=f"{PREFIX}-cleanse-least-privilege")["PolicyDocument"]
    doc = json.loads(doc) if isinstance(doc, str) else doc
    for statement in doc["Statement"]:
        if statement["Effect"] != "Allow":
            continue
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        assert all("*" not in a for a in actions), statement
        assert "*" not in resources or set(actions) <= NO_RESOURCE_LEVEL_ACTIONS, statement


def test_tokenisation_key_is_a_secure_string_written_by_the_kit(deployed):
    kit, proc = deployed
    param = kit.client("ssm").get_parameter(Name=f"/{PREFIX}/tokenisation-key", WithDecryption=False)["Parameter"]
    assert param["Type"] == "SecureString"
    assert "tokenisation key /pk-local/tokenisation-key: created" in proc.stdout


# -- catalog, query, API, observability, audit, backup (issue: analytics and governance) ---------

DATASETS = ("customers", "events", "orders")


def test_glue_catalog_has_a_table_per_dataset_queryable_without_a_crawl(deployed):
    kit, _ = deployed
    glue = kit.client("glue")
    assert {"pk_local_raw", "pk_local_clean"} <= {d["Name"] for d in glue.get_databases()["DatabaseList"]}
    for dataset in DATASETS:
        table = glue.get_table(DatabaseName="pk_local_clean", Name=dataset)["Table"]
        assert table["StorageDescriptor"]["Location"] == f"s3://{bucket('clean')}/dataset={dataset}/"
        assert [(k["Name"], k["Type"]) for k in table["PartitionKeys"]] == [("date", "string")]
        assert table["Parameters"]["projection.enabled"] == "true"
    reports = glue.get_table(DatabaseName="pk_local_clean", Name="quarantine_reports")["Table"]
    assert reports["StorageDescriptor"]["Location"] == f"s3://{bucket('quarantine')}/_reports/"
    status = glue.get_table(DatabaseName="pk_local_clean", Name="file_status")["Table"]
    assert [k["Name"] for k in status["PartitionKeys"]] == ["dataset", "date"]


def test_a_crawler_per_dataset_over_the_clean_prefix(deployed):
    kit, _ = deployed
    glue = kit.client("glue")
    for dataset in DATASETS:
        crawler = glue.get_crawler(Name=f"{PREFIX}-{dataset}-crawler")["Crawler"]
        assert crawler["Targets"]["S3Targets"][0]["Path"] == f"s3://{bucket('clean')}/dataset={dataset}/"
        assert "Schedule" not in crawler or not crawler["Schedule"]  # off in local


def test_schema_registry_holds_a_backward_schema_per_dataset(deployed):
    kit, _ = deployed
    glue = kit.client("glue")
    for dataset in DATASETS:
        schema = glue.get_schema(SchemaId={"RegistryName": f"{PREFIX}-datasets", "SchemaName": dataset})
        assert schema["Compatibility"] == "BACKWARD"
        assert schema["DataFormat"] == "JSON"


def test_compaction_job_runs_with_bookmarks_from_the_artifacts_bucket(deployed):
    kit, _ = deployed
    job = kit.client("glue").get_job(JobName=f"{PREFIX}-compact-clean")["Job"]
    assert job["DefaultArguments"]["--job-bookmark-option"] == "job-bookmark-enable"
    assert job["Command"]["ScriptLocation"].startswith(f"s3://{bucket('artifacts')}/artifacts/glue-script/")
    assert (job["WorkerType"], job["NumberOfWorkers"]) == ("G.1X", 2)


def test_athena_workgroup_enforces_kms_results_and_a_scan_cutoff(deployed):
    kit, _ = deployed
    athena = kit.client("athena")
    wg = athena.get_work_group(WorkGroup=f"{PREFIX}-analytics")["WorkGroup"]["Configuration"]
    assert wg["EnforceWorkGroupConfiguration"] is True
    assert wg["BytesScannedCutoffPerQuery"] == 104857600
    assert wg["ResultConfiguration"]["EncryptionConfiguration"]["EncryptionOption"] == "SSE_KMS"
    names = [athena.get_named_query(NamedQueryId=q)["NamedQuery"]["Name"]
             for q in athena.list_named_queries(WorkGroup=f"{PREFIX}-analytics")["NamedQueryIds"]]
    assert len(names) == 3 * len(DATASETS)


def test_rest_api_is_deployed_with_iam_authorisation(deployed):
    kit, _ = deployed
    apigw = kit.client("apigateway")
    (api,) = [a for a in apigw.get_rest_apis()["items"] if a["name"] == f"{PREFIX}-api"]
    assert [s["stageName"] for s in apigw.get_stages(restApiId=api["id"])["item"]] == ["v1"]
    methods = [(r["path"], m, apigw.get_method(restApiId=api["id"], resourceId=r["id"], httpMethod=m))
               for r in apigw.get_resources(restApiId=api["id"])["items"] for m in r.get("resourceMethods", {})]
    from kit.openapi import load_core  # the api plug-in's core: its ROUTES are the API's methods

    assert {(p, m) for p, m, _ in methods} == {(path, method) for method, path in load_core().ROUTES}
    assert {d["authorizationType"] for _, _, d in methods} == {"AWS_IAM"}


def test_dashboard_metric_filters_trail_and_backup_exist(deployed):
    kit, _ = deployed
    assert kit.client("cloudwatch").get_dashboard(DashboardName=f"{PREFIX}-pipeline")["DashboardBody"]
    filters = kit.client("logs").describe_metric_filters(logGroupName=f"/aws/lambda/{PREFIX}-validate")["metricFilters"]
    assert [f["filterName"] for f in filters] == [f"{PREFIX}-validate-error-logs"]
    (trail,) = kit.client("cloudtrail").describe_trails(trailNameList=[f"{PREFIX}-trail"])["trailList"]
    assert trail["IsMultiRegionTrail"] and trail["LogFileValidationEnabled"]
    assert trail["S3BucketName"] == bucket("audit")
    assert f":log-group:/aws/cloudtrail/{PREFIX}-trail" in trail["CloudWatchLogsLogGroupArn"]
    from modules.audit import CIS_SECURITY_EVENTS

    security = kit.client("logs").describe_metric_filters(logGroupName=f"/aws/cloudtrail/{PREFIX}-trail")
    assert len(security["metricFilters"]) == len(CIS_SECURITY_EVENTS)
    backup = kit.client("backup")
    assert f"{PREFIX}-backup" in [v["BackupVaultName"] for v in backup.list_backup_vaults()["BackupVaultList"]]
    assert f"{PREFIX}-backup" in [p["BackupPlanName"] for p in backup.list_backup_plans()["BackupPlansList"]]


def test_private_network_has_private_subnets_endpoints_and_flow_logs(deployed):
    kit, _ = deployed
    ec2 = kit.client("ec2")
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [f"{PREFIX}-vpc"]}])["Vpcs"]
    assert [v["CidrBlock"] for v in vpcs] == ["10.10.0.0/16"]
    vpc_id = vpcs[0]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
    assert sorted(s["CidrBlock"] for s in subnets) == ["10.10.0.0/18", "10.10.64.0/18"]
    assert len({s["AvailabilityZone"] for s in subnets}) == 2
    assert not any(s["MapPublicIpOnLaunch"] for s in subnets)
    assert not ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])["InternetGateways"]
    endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["VpcEndpoints"]
    services = {e["ServiceName"].split(".", 3)[-1]: e["VpcEndpointType"] for e in endpoints}
    assert services == {"s3": "Gateway", "dynamodb": "Gateway", "ecr.api": "Interface", "ecr.dkr": "Interface",
                        "logs": "Interface", "sqs": "Interface", "ssm": "Interface", "kms": "Interface",
                        "sts": "Interface", "sns": "Interface", "athena": "Interface", "batch": "Interface"}
    assert all(json.loads(e["PolicyDocument"])["Statement"] for e in endpoints)
    # the plug-in functions run in the private subnets (the emulator accepts the attachment)
    vpc_config = kit.client("lambda").get_function_configuration(FunctionName=f"{PREFIX}-validate")["VpcConfig"]
    assert sorted(vpc_config["SubnetIds"]) == sorted(s["SubnetId"] for s in subnets)
    flows = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc_id]}])["FlowLogs"]
    assert len(flows) == 1 and flows[0]["TrafficType"] == "ALL"
    # the emulator reports the destination's ARN (AWS also names the log group)
    assert f":log-group:/aws/vpc/{PREFIX}/flow-logs" in flows[0]["LogDestination"]


def test_security_groups_admit_nothing_from_address_ranges(deployed):
    kit, _ = deployed
    ec2 = kit.client("ec2")
    vpc_id = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [f"{PREFIX}-vpc"]}])["Vpcs"][0]["VpcId"]
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["SecurityGroups"]
    by_name = {g["GroupName"]: g for g in groups}
    assert {f"{PREFIX}-workloads", f"{PREFIX}-data-clients", f"{PREFIX}-endpoints", "default"} <= set(by_name)
    for g in groups:
        for rule in g["IpPermissions"]:
            assert not rule.get("IpRanges"), (g["GroupName"], rule)
    assert by_name["default"]["IpPermissions"] == [] and by_name["default"]["IpPermissionsEgress"] == []
    assert by_name[f"{PREFIX}-workloads"]["IpPermissions"] == []


def test_batch_runs_plugin_jobs_on_fargate_from_an_immutable_repository(deployed):
    kit, _ = deployed
    ecr = kit.client("ecr")
    repo = ecr.describe_repositories(repositoryNames=[f"{PREFIX}-plugins"])["repositories"][0]
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert repo["imageScanningConfiguration"]["scanOnPush"] is True
    assert repo["encryptionConfiguration"]["encryptionType"] == "KMS"
    batch = kit.client("batch")
    ce = batch.describe_compute_environments(computeEnvironments=[f"{PREFIX}-batch"])["computeEnvironments"][0]
    assert ce["computeResources"]["type"] == "FARGATE" and ce["computeResources"]["maxvCpus"] == 4
    queue = batch.describe_job_queues(jobQueues=[f"{PREFIX}-batch"])["jobQueues"][0]
    assert queue["state"] == "ENABLED"
    defs = batch.describe_job_definitions(status="ACTIVE")["jobDefinitions"]
    ours = {d["jobDefinitionName"]: d for d in defs if d["jobDefinitionName"].startswith(PREFIX)}
    assert sorted(ours) == [f"{PREFIX}-cleanse-batch", f"{PREFIX}-validate-batch"]
    for name, d in ours.items():
        plugin = name[len(PREFIX) + 1:-len("-batch")]
        container = d["containerProperties"]
        assert container["image"].startswith(f"{repo['repositoryUri']}:")
        assert container["command"][:5] == ["python", "-m", "pipeline_shared.batch_job", "--plugin", plugin]
        env = {e["name"]: e["value"] for e in container["environment"]}
        assert env["PIPELINE_RUNS_ON"] == "batch" and "PIPELINE_BATCH_JOB_QUEUE" not in env
    fn = kit.client("lambda").get_function_configuration(FunctionName=f"{PREFIX}-validate")
    variables = fn["Environment"]["Variables"]
    assert variables["PIPELINE_BATCH_ROUTE_ABOVE_BYTES"] == "65536"
    assert variables["PIPELINE_BATCH_JOB_QUEUE"] == queue["jobQueueArn"]
