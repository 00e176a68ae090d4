"""The API's submission routes on the deployed `local` stack, through `python -m kit api`:
a file goes through the presigned upload → the pipeline → GET /files/<id> → the download of its
clean output; a small body is cleansed synchronously (200, tokenised) or refused (413).

The dataset is picked from the contracts the deployed release carries (the API function's zip in
the artifacts bucket): a CSV dataset with a PII column and a shipped good sample, whose header
must be the contract's columns; the file the test uploads is written from that sample's rows."""

from __future__ import annotations

import csv
import gzip
import io
import json
import tomllib
import zipfile
from pathlib import Path

import pytest
from names import PREFIX, bucket

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "lambdas" / "_shared" / "samples"
CONTRACTS_IN_ZIP = "pipeline_shared/contracts/"


def deployed_function(kit) -> dict:
    return kit.client("lambda").get_function_configuration(FunctionName=f"{PREFIX}-api")


def deployed_contracts(kit) -> dict[str, dict]:
    """``{dataset: parsed contract}`` from the API function's deployed zip."""
    import base64

    sha = base64.b64decode(deployed_function(kit)["CodeSha256"]).hex()
    body = kit.client("s3").get_object(Bucket=bucket("artifacts"), Key=f"artifacts/api/{sha}.zip")["Body"].read()
    contracts = {}
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        for name in archive.namelist():
            if name.startswith(CONTRACTS_IN_ZIP) and name.endswith(".toml") and "/" not in name[len(CONTRACTS_IN_ZIP):]:
                contracts[Path(name).stem] = tomllib.loads(archive.read(name).decode("utf-8"))
    return contracts


def pick_dataset(contracts: dict[str, dict]) -> tuple[str, dict, list[dict[str, str]]]:
    for name, contract in sorted(contracts.items()):
        columns = [c["name"] for c in contract.get("columns", [])]
        sample = SAMPLES / name / "good.csv"
        if contract["dataset"].get("format") != "csv" or not any(c.get("pii") for c in contract["columns"]):
            continue
        if not sample.is_file():
            continue
        rows = list(csv.DictReader(io.StringIO(sample.read_text(encoding="utf-8")),
                                   delimiter=contract["dataset"].get("delimiter", ",")))
        if rows and list(rows[0]) == columns:
            return name, contract, rows
    pytest.fail("no CSV dataset with a PII column and a good sample (samples/<dataset>/good.csv) is deployed")


def write_csv(path: Path, contract: dict, rows: list[dict[str, str]]) -> Path:
    columns = [c["name"] for c in contract["columns"]]
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=columns, delimiter=contract["dataset"].get("delimiter", ","),
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def answer(stdout: str, after: str = "") -> tuple[int, dict]:
    """The status and JSON body of the last ``HTTP <code>`` block printed (after ``after``)."""
    text = stdout[stdout.index(after) + len(after):] if after else stdout
    head, _, rest = text.rpartition("HTTP ")
    code, _, payload = rest.partition("\n")
    body, _ = json.JSONDecoder().raw_decode(payload.lstrip())
    return int(code), body


def created_upload(proc) -> dict:
    """The 201 body of ``--upload``'s POST (printed before the PUT)."""
    assert "==> PUT " in proc.stdout, proc.stdout[-3000:] + proc.stderr[-3000:]
    status, body = answer(proc.stdout[: proc.stdout.index("==> PUT ")])
    assert status == 201, body
    return body


def read_clean(data: bytes) -> list[dict[str, str]]:
    """A clean CSV output: standard CSV (comma, header first) whatever the input's delimiter."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


@pytest.fixture(scope="module")
def submission(deployed, tmp_path_factory):
    kit, _ = deployed
    folder = tmp_path_factory.mktemp("api-upload")
    dataset, contract, rows = pick_dataset(deployed_contracts(kit))
    upload = write_csv(folder / f"{dataset}-api.csv", contract, rows)
    return kit, folder, dataset, contract, rows, upload


@pytest.fixture(scope="module")
def cleansed(submission):
    kit, _, dataset, _, _, upload = submission
    proc = kit.run("api", "--env", "local", "POST", f"/datasets/{dataset}/cleanse", "--body-file", str(upload),
                   check=False)
    return proc, *answer(proc.stdout)


@pytest.fixture(scope="module")
def uploaded(submission, cleansed):  # after the synchronous call: nothing it did may show up here
    kit, folder, dataset, _, _, upload = submission
    downloads = folder / "downloads"
    proc = kit.run("api", "--env", "local", "POST", f"/datasets/{dataset}/files", "--upload", str(upload),
                   "--download", str(downloads), check=False)
    return proc, downloads


def pii_columns(contract: dict) -> list[str]:
    return [c["name"] for c in contract["columns"] if c.get("pii")]


def test_the_synchronous_cleanse_answers_200_with_every_row_clean_and_tokenised(submission, cleansed):
    _, _, dataset, contract, rows, _ = submission
    proc, status, body = cleansed
    assert status == 200, proc.stdout + proc.stderr
    assert (body["dataset"], body["rows_in"], body["rejected"], body["rejections"]) == (dataset, len(rows), 0, [])
    assert len(body["records"]) == body["valid"] - body["duplicates"] > 0
    for column in pii_columns(contract):
        raw = {r[column] for r in rows if r[column]}
        tokens = {r[column] for r in body["records"] if r.get(column)}
        assert tokens and not tokens & raw, column


def test_a_body_above_the_synchronous_limit_answers_413_pointing_to_the_upload_route(submission):
    kit, folder, dataset, contract, rows, _ = submission
    limit = int(deployed_function(kit)["Environment"]["Variables"]["PIPELINE_API_SYNC_MAX_BYTES"])
    big, copies = folder / "big.csv", 1
    while write_csv(big, contract, rows * copies).stat().st_size <= limit:
        copies *= 2
    proc = kit.run("api", "--env", "local", "POST", f"/datasets/{dataset}/cleanse", "--body-file", str(big), check=False)
    status, body = answer(proc.stdout)
    assert (status, proc.returncode) == (413, 1), proc.stdout[-2000:] + proc.stderr
    assert body["upload_route"] == f"/datasets/{dataset}/files"
    assert f"POST /datasets/{dataset}/files" in body["message"]


def test_an_uploaded_file_goes_through_the_pipeline_and_get_files_says_processed(uploaded):
    proc, _ = uploaded
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    created = created_upload(proc)
    status, view = answer(proc.stdout, after="==> GET /files/")
    assert status == 200
    assert (view["status"], view["upload_id"], view["key"]) == ("processed", created["file_id"], created["key"])
    assert view["file_id"] in view["files"]


def test_get_files_of_the_upload_id_answers_the_pipelines_record(uploaded, submission):
    kit = submission[0]
    proc, _ = uploaded
    created = created_upload(proc)
    again = kit.run("api", "--env", "local", "GET", f"/files/{created['file_id']}", check=False)
    status, view = answer(again.stdout)
    assert (status, view["status"], view["upload_id"]) == (200, "processed", created["file_id"])
    assert [entry["key"] for entry in view["downloads"]["clean"]]


def test_the_downloaded_clean_output_has_every_row_and_no_raw_pii(uploaded, submission, cleansed):
    _, _, _, contract, rows, _ = submission
    _, _, sync = cleansed
    _, downloads = uploaded
    files = [p for p in downloads.rglob("*") if p.is_file()]
    assert files, "nothing was downloaded"
    clean = [row for path in files for row in read_clean(path.read_bytes())]
    assert len(clean) == len(sync["records"])
    text = b"".join(p.read_bytes() for p in files).decode("utf-8", "replace")
    for column in pii_columns(contract):
        for value in {r[column] for r in rows if r[column]}:
            assert value not in text, f"raw {column} value {value!r} in the clean output"
        # the pipeline's tokens are the synchronous route's: the same code and key
        assert {r[column] for r in clean if r.get(column)} == {r[column] for r in sync["records"] if r.get(column)}
