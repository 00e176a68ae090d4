"""`make redrive`, `make status`, `make replay` (kit/ops.py) on moto, and the AWS redrive path on
botocore's Stubber with AWS-shaped StartMessageMoveTask / ListMessageMoveTasks answers (moto does
not implement them; the emulator answers them with HTTP 500).

Stages, datasets and names are made up here (stages ``alpha`` and ``beta``, prefix ``pk-t``)."""

from __future__ import annotations

import json

import pytest

from kit.ops import (
    StageQueues,
    all_records,
    dataset_records,
    file_records,
    history_lines,
    raw_copy,
    redrive_by_copy,
    redrive_with_task,
    replay_file,
    stage_queues,
    status_table,
)
from kit.smoke import dlq_depths, dlq_growth
from kit.ui import KitError

REGION = "eu-west-1"
PREFIX = "pk-t"
STAGES = ["alpha", "beta"]
ACCOUNT = "123456789012"


@pytest.fixture
def sqs():
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("sqs", region_name=REGION)
        for stage in STAGES:
            client.create_queue(QueueName=f"{PREFIX}-{stage}")
            client.create_queue(QueueName=f"{PREFIX}-{stage}-dlq")
        yield client


def received(sqs, url: str) -> list[dict]:
    out = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                  VisibilityTimeout=30).get("Messages", [])
        if not got:
            return out
        out += got


def depth(sqs, url: str) -> int:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages",
                                                                   "ApproximateNumberOfMessagesNotVisible"])
    return sum(int(v) for v in attrs["Attributes"].values())


# -- redrive on the emulator: receive → send → delete ------------------------------------------------


def test_dead_letters_are_moved_back_with_their_body_and_attributes(sqs):
    (alpha,) = stage_queues(sqs, PREFIX, STAGES, "alpha")
    attributes = {"dataset": {"DataType": "String", "StringValue": "sales"},
                  "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}}
    bodies = [json.dumps({"key": f"sales/{i}.csv", "file_id": str(i) * 32}) for i in range(3)]
    for body in bodies:
        sqs.send_message(QueueUrl=alpha.dlq_url, MessageBody=body, MessageAttributes=attributes)
    result = redrive_by_copy(sqs, alpha)
    assert (result.moved, result.failed, sorted(result.files)) == (3, 0, ["sales/0.csv", "sales/1.csv", "sales/2.csv"])
    moved = received(sqs, alpha.queue_url)
    assert sorted(m["Body"] for m in moved) == sorted(bodies)
    assert all(m["MessageAttributes"] == attributes for m in moved)
    assert depth(sqs, alpha.dlq_url) == 0
    assert result.line() == (f"alpha: 3 message(s) moved {PREFIX}-alpha-dlq → {PREFIX}-alpha "
                             f"({', '.join(result.files)})")


def test_a_rerun_moves_nothing(sqs):
    (alpha,) = stage_queues(sqs, PREFIX, STAGES, "alpha")
    sqs.send_message(QueueUrl=alpha.dlq_url, MessageBody="{}")
    redrive_by_copy(sqs, alpha)
    again = redrive_by_copy(sqs, alpha)
    assert (again.moved, again.line()) == (0, f"alpha: nothing to move in {PREFIX}-alpha-dlq")


def test_every_stage_is_redriven_when_none_is_named(sqs):
    assert [q.stage for q in stage_queues(sqs, PREFIX, STAGES)] == STAGES


def test_an_unknown_stage_is_refused_naming_the_known_ones(sqs):
    with pytest.raises(KitError) as err:
        stage_queues(sqs, PREFIX, STAGES, "gamma")
    assert str(err.value) == "unknown stage 'gamma': the stages with a dead-letter queue are alpha, beta"


def test_a_stage_without_queues_is_refused_naming_them(sqs):
    with pytest.raises(KitError) as err:
        stage_queues(sqs, PREFIX, [*STAGES, "gamma"], "gamma")
    assert str(err.value).startswith(f"the queues of stage gamma ({PREFIX}-gamma, {PREFIX}-gamma-dlq) cannot be found")


def test_a_message_that_cannot_be_sent_stays_in_the_dead_letter_queue(sqs):
    (alpha,) = stage_queues(sqs, PREFIX, STAGES, "alpha")
    sqs.send_message(QueueUrl=alpha.dlq_url, MessageBody="{}")
    gone = StageQueues(stage="alpha", queue_url=alpha.queue_url.replace("alpha", "nosuch"), dlq_url=alpha.dlq_url)
    result = redrive_by_copy(sqs, gone, visibility_timeout=0)  # visible again at once: tried once only
    assert (result.moved, result.failed) == (0, 1)
    assert depth(sqs, alpha.dlq_url) == 1
    assert "1 could not be sent and stay in" in result.line()


# -- redrive on AWS: StartMessageMoveTask, never two at once -----------------------------------------


DLQ_URL = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{PREFIX}-alpha-dlq"
QUEUE_URL = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{PREFIX}-alpha"
DLQ_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{PREFIX}-alpha-dlq"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{PREFIX}-alpha"


@pytest.fixture
def stubbed():
    """A real SQS client whose every call must be one the test queued (Stubber)."""
    import boto3
    from botocore.stub import Stubber

    client = boto3.client("sqs", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
    with Stubber(client) as stub:
        stub.add_response("get_queue_attributes", {"Attributes": {"QueueArn": DLQ_ARN}},
                          {"QueueUrl": DLQ_URL, "AttributeNames": ["QueueArn"]})
        stub.add_response("get_queue_attributes", {"Attributes": {"QueueArn": QUEUE_ARN}},
                          {"QueueUrl": QUEUE_URL, "AttributeNames": ["QueueArn"]})
        yield client, stub
        stub.assert_no_pending_responses()


def task(status: str, moved: int, to_move: int, *, started: int = 1_700_000_000_000) -> dict:
    """One ListMessageMoveTasks result, as AWS documents it (TaskHandle only while RUNNING)."""
    out = {"Status": status, "SourceArn": DLQ_ARN, "DestinationArn": QUEUE_ARN,
           "ApproximateNumberOfMessagesMoved": moved, "ApproximateNumberOfMessagesToMove": to_move,
           "StartedTimestamp": started}
    if status == "RUNNING":
        out["TaskHandle"] = "eyJ0YXNrSWQiOiJkYmQ2In0="
    return out


ALPHA = StageQueues(stage="alpha", queue_url=QUEUE_URL, dlq_url=DLQ_URL)


def test_a_move_task_is_started_from_the_dlq_to_its_stage_queue(stubbed):
    client, stub = stubbed
    stub.add_response("list_message_move_tasks", {"Results": []}, {"SourceArn": DLQ_ARN, "MaxResults": 10})
    stub.add_response("get_queue_attributes", {"Attributes": {"ApproximateNumberOfMessages": "4"}},
                      {"QueueUrl": DLQ_URL, "AttributeNames": ["ApproximateNumberOfMessages"]})
    stub.add_response("start_message_move_task", {"TaskHandle": "eyJ0YXNrSWQiOiJkYmQ2In0="},
                      {"SourceArn": DLQ_ARN, "DestinationArn": QUEUE_ARN})
    stub.add_response("list_message_move_tasks", {"Results": [task("RUNNING", 1, 4)]},
                      {"SourceArn": DLQ_ARN, "MaxResults": 10})
    result = redrive_with_task(client, ALPHA)
    assert (result.task_started, result.task_status, result.moved, result.to_move) == (True, "RUNNING", 1, 4)
    assert result.line() == (f"alpha: move task started {PREFIX}-alpha-dlq → {PREFIX}-alpha "
                             "(~1 moved of ~4; task RUNNING)")


def test_a_running_move_task_is_reported_and_not_started_again(stubbed):
    client, stub = stubbed
    stub.add_response("list_message_move_tasks", {"Results": [task("RUNNING", 2, 4)]},
                      {"SourceArn": DLQ_ARN, "MaxResults": 10})
    result = redrive_with_task(client, ALPHA)  # a StartMessageMoveTask call would fail: none is queued
    assert (result.task_started, result.task_status) == (False, "RUNNING")
    assert result.line() == (f"alpha: a move task is already RUNNING {PREFIX}-alpha-dlq → {PREFIX}-alpha "
                             "(~2 moved of ~4); not started again")


def test_an_empty_dlq_starts_no_task_and_shows_the_last_one(stubbed):
    client, stub = stubbed
    stub.add_response("list_message_move_tasks", {"Results": [task("COMPLETED", 4, 4)]},
                      {"SourceArn": DLQ_ARN, "MaxResults": 10})
    stub.add_response("get_queue_attributes", {"Attributes": {"ApproximateNumberOfMessages": "0"}},
                      {"QueueUrl": DLQ_URL, "AttributeNames": ["ApproximateNumberOfMessages"]})
    result = redrive_with_task(client, ALPHA)
    assert not result.task_started
    assert result.line() == f"alpha: nothing to move in {PREFIX}-alpha-dlq (last move task COMPLETED: ~4 moved of ~4)"


# -- status ------------------------------------------------------------------------------------------


@pytest.fixture
def table():
    """The status table's layout (keyed by file_id, GSI by-dataset on dataset + updated_at)."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        ddb.create_table(
            TableName=f"{PREFIX}-status", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("file_id", "dataset", "updated_at")],
            KeySchema=[{"AttributeName": "file_id", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[{"IndexName": "by-dataset", "Projection": {"ProjectionType": "ALL"},
                                     "KeySchema": [{"AttributeName": "dataset", "KeyType": "HASH"},
                                                   {"AttributeName": "updated_at", "KeyType": "RANGE"}]}])
        yield ddb


def put_record(ddb, file_id: str, key: str, updated_at: str, status: str = "processed", **locations: str) -> None:
    from boto3.dynamodb.types import TypeSerializer

    item = {"file_id": file_id, "key": key, "dataset": key.split("/")[0] if "/" in key else "_unknown",
            "status": status, "updated_at": updated_at, "bucket": "landing",
            "counts": {"records_in": 4, "out": 3, "rejected": 1}, "locations": dict(locations)}
    ser = TypeSerializer()
    ddb.put_item(TableName=f"{PREFIX}-status", Item={k: ser.serialize(v) for k, v in item.items()})


TABLE = f"{PREFIX}-status"


def test_a_key_lists_every_record_of_it_newest_first(table):
    put_record(table, "1" * 32, "sales/a.csv", "2024-05-01T00:00:00.000000Z")
    put_record(table, "2" * 32, "sales/a.csv", "2024-05-02T00:00:00.000000Z")
    put_record(table, "3" * 32, "sales/b.csv", "2024-05-03T00:00:00.000000Z")
    assert [r["file_id"] for r in file_records(table, TABLE, "sales/a.csv")] == ["2" * 32, "1" * 32]


def test_a_file_id_is_its_one_record(table):
    put_record(table, "1" * 32, "sales/a.csv", "2024-05-01T00:00:00.000000Z")
    assert [r["key"] for r in file_records(table, TABLE, "1" * 32)] == ["sales/a.csv"]
    assert file_records(table, TABLE, "f" * 32) == []


def test_a_dataset_is_read_newest_first_up_to_the_limit(table):
    for day in (1, 3, 2):
        put_record(table, str(day) * 32, f"sales/{day}.csv", f"2024-05-0{day}T00:00:00.000000Z")
    put_record(table, "9" * 32, "stock/x.csv", "2024-05-09T00:00:00.000000Z")
    assert [r["key"] for r in dataset_records(table, TABLE, "sales", 2)] == ["sales/3.csv", "sales/2.csv"]


def test_everything_is_scanned_newest_first_up_to_the_limit(table):
    put_record(table, "1" * 32, "sales/1.csv", "2024-05-01T00:00:00.000000Z")
    put_record(table, "9" * 32, "stock/x.csv", "2024-05-09T00:00:00.000000Z")
    put_record(table, "5" * 32, "sales/5.csv", "2024-05-05T00:00:00.000000Z")
    records, total = all_records(table, TABLE, 2)
    assert ([r["key"] for r in records], total) == (["stock/x.csv", "sales/5.csv"], 3)


def test_status_prints_the_columns_of_make_run(table):
    put_record(table, "1" * 32, "sales/a.csv", "2024-05-01T00:00:00.000000Z", archive="s3://archive/x",
               clean="s3://clean/y")
    text = status_table(file_records(table, TABLE, "sales/a.csv"), {"alpha": 0})
    header, rule, row, dlq = text.splitlines()
    assert header.split()[:6] == ["file", "dataset", "in", "out", "rejected", "status"]
    assert row.split() == ["sales/a.csv", "sales", "4", "3", "1", "processed", "clean", "+", "archive"]
    assert dlq == "dead-letter queues: all empty"


def test_the_history_names_each_file_id(table):
    put_record(table, "1" * 32, "sales/a.csv", "2024-05-01T00:00:00.000000Z")
    (line,) = history_lines(file_records(table, TABLE, "sales/a.csv"))
    assert line.split() == ["1" * 32, "processed", "2024-05-01T00:00:00.000000Z"]


# -- replay ------------------------------------------------------------------------------------------


def test_a_processed_file_is_replayed_from_its_archive_copy():
    record = {"file_id": "1" * 32, "key": "sales/a.csv", "locations": {
        "archive": "s3://arch/sales/2024/05/01/111/sales/a.csv", "quarantine": "s3://q/sales/111/original/a.csv"}}
    assert raw_copy(record) == ("arch", "sales/2024/05/01/111/sales/a.csv", "archive")


def test_a_rejected_file_is_replayed_from_its_whole_copy_in_quarantine():
    record = {"file_id": "1" * 32, "key": "sales/a.csv", "locations": {
        "quarantine": "s3://q/sales/111/original/a.csv", "quarantine_report": "s3://q/sales/111/report.json"}}
    assert raw_copy(record) == ("q", "sales/111/original/a.csv", "quarantine")


def test_a_file_without_a_raw_copy_cannot_be_replayed():
    record = {"file_id": "1" * 32, "key": "sales/a.csv", "status": "quarantined",
              "locations": {"quarantine_report": "s3://q/sales/111/report.json"}}
    with pytest.raises(KitError) as err:
        raw_copy(record)
    assert str(err.value) == (f"file {'1' * 32} (sales/a.csv, status quarantined) has no raw copy to replay from: its "
                              "status record names neither locations.archive (processed files) nor "
                              "locations.quarantine (whole-file rejects)")


@pytest.fixture
def buckets():
    import boto3
    from moto import mock_aws

    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        for name in ("landing", "arch"):
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket="landing", VersioningConfiguration={"Status": "Enabled"})
        yield s3


def test_a_replay_puts_the_raw_bytes_back_at_the_original_key_as_a_new_version(buckets):
    from pipeline_shared import keys

    s3 = buckets
    first = s3.put_object(Bucket="landing", Key="sales/a.csv", Body=b"a,b\n1,2\n")["VersionId"]
    s3.delete_object(Bucket="landing", Key="sales/a.csv")  # archive removed it from landing
    s3.put_object(Bucket="arch", Key="sales/2024/05/01/111/sales/a.csv", Body=b"a,b\n1,2\n", ContentType="text/csv")
    old_id = keys.file_id("landing", "sales/a.csv", version_id=first)
    record = {"file_id": old_id, "key": "sales/a.csv", "bucket": "landing",
              "locations": {"archive": "s3://arch/sales/2024/05/01/111/sales/a.csv"}}
    done = replay_file(s3, record, landing_bucket="landing")
    head = s3.head_object(Bucket="landing", Key="sales/a.csv")
    assert (head["VersionId"], head["Metadata"], head["ContentType"]) == (done.version_id, {"replay-of": old_id},
                                                                          "text/csv")
    assert s3.get_object(Bucket="landing", Key="sales/a.csv")["Body"].read() == b"a,b\n1,2\n"
    assert done.version_id != first and done.new_file_id == keys.file_id("landing", "sales/a.csv",
                                                                         version_id=done.version_id)
    assert done.new_file_id != old_id


def test_a_replay_needs_a_versioned_landing_bucket(buckets):
    buckets.put_bucket_versioning(Bucket="landing", VersioningConfiguration={"Status": "Suspended"})
    buckets.put_object(Bucket="arch", Key="raw.csv", Body=b"x")
    record = {"file_id": "1" * 32, "key": "sales/a.csv", "locations": {"archive": "s3://arch/raw.csv"}}
    with pytest.raises(KitError) as err:
        replay_file(buckets, record, landing_bucket="landing")
    assert str(err.value).startswith("landing bucket s3://landing is not versioned (versioning: Suspended)")


def test_a_replay_of_a_raw_copy_that_is_gone_says_so(buckets):
    record = {"file_id": "1" * 32, "key": "sales/a.csv", "locations": {"archive": "s3://arch/nothing.csv"}}
    with pytest.raises(KitError) as err:
        replay_file(buckets, record, landing_bucket="landing")
    assert str(err.value) == f"the raw copy s3://arch/nothing.csv (archive) of file {'1' * 32} is gone"


# -- the smoke test counts dead letters ------------------------------------------------------------


@pytest.fixture
def redriven_queues():
    """Stage queues that redrive to their DLQs, and a DLQ no queue redrives to (an SNS
    subscription's, say)."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("sqs", region_name=REGION)
        for stage in STAGES:
            dlq = client.create_queue(QueueName=f"{PREFIX}-{stage}-dlq")["QueueUrl"]
            arn = client.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            client.create_queue(QueueName=f"{PREFIX}-{stage}", Attributes={
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": "3"})})
        client.create_queue(QueueName=f"{PREFIX}-events-subscriptions-dlq")
        yield client


def test_the_smoke_test_sees_which_stage_dead_letter_queue_grew(redriven_queues):
    sqs = redriven_queues
    before = dlq_depths(sqs, PREFIX)
    assert before == {f"{PREFIX}-alpha-dlq": 0, f"{PREFIX}-beta-dlq": 0}
    (beta,) = stage_queues(sqs, PREFIX, STAGES, "beta")
    sqs.send_message(QueueUrl=beta.dlq_url, MessageBody="{}")
    assert dlq_growth(before, dlq_depths(sqs, PREFIX)) == {f"{PREFIX}-beta-dlq": 1}


def test_the_smoke_test_ignores_a_dlq_no_queue_redrives_to(redriven_queues):
    sqs = redriven_queues
    before = dlq_depths(sqs, PREFIX)
    other = sqs.get_queue_url(QueueName=f"{PREFIX}-events-subscriptions-dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=other, MessageBody="{}")
    assert dlq_growth(before, dlq_depths(sqs, PREFIX)) == {}


def test_dead_letters_from_before_the_smoke_test_do_not_count():
    assert dlq_growth({"q-dlq": 2}, {"q-dlq": 2}) == {}

