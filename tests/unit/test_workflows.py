"""The GitHub Actions definition: the real linter (actionlint) passes on every workflow, and the
promotion model holds: build once, promote dev → test → staging → prod, prod behind its GitHub
environment and APPROVE=prod, AWS credentials only from OIDC roles, a timeout on every job."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GITHUB = ROOT / ".github"
WORKFLOWS = GITHUB / "workflows"
WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.yml"))
STAGES = ("dev", "test", "staging", "prod")
MAX_TIMEOUT_MINUTES = 120  # a hung job must not hold a runner (or the deploy-main queue) for GitHub's 6 hours
OIDC_ACTIONS = ("aws-actions/configure-aws-credentials@", "./.github/actions/aws-oidc")
LONG_LIVED_KEYS = re.compile(
    r"aws-access-key-id|aws-secret-access-key|aws_access_key_id|aws_secret_access_key", re.IGNORECASE
)


def _load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _workflows() -> dict[str, dict[str, Any]]:
    return {path.name: _load(path) for path in WORKFLOW_FILES}


def _jobs(name: str) -> dict[str, dict[str, Any]]:
    return _load(WORKFLOWS / name)["jobs"]


def _environment(job: dict[str, Any]) -> str | None:
    env = job.get("environment")
    return env.get("name") if isinstance(env, dict) else env


def _runs(job: dict[str, Any]) -> str:
    return "\n".join(step["run"] for step in job.get("steps", []) if "run" in step)


def _uses(job: dict[str, Any]) -> list[str]:
    return [step["uses"] for step in job.get("steps", []) if "uses" in step]


def _stage_jobs() -> dict[str, str]:
    """deploy.yml: stage name → the id of the job that deploys it (found by its `environment`)."""
    jobs = _jobs("deploy.yml")
    found = {_environment(job): job_id for job_id, job in jobs.items() if _environment(job)}
    assert set(found) == set(STAGES), f"deploy.yml deploys to {sorted(found)}, expected {list(STAGES)}"
    return found


def _needs(job: dict[str, Any]) -> list[str]:
    needs = job.get("needs", [])
    return [needs] if isinstance(needs, str) else list(needs)


def test_there_are_workflows_to_check() -> None:
    assert {path.name for path in WORKFLOW_FILES} >= {"ci.yml", "deploy.yml", "drift.yml"}


def test_actionlint_passes_on_every_workflow() -> None:
    from kit.actionlint import lint

    try:
        linter, findings = lint([str(path.relative_to(ROOT)) for path in WORKFLOW_FILES])
    except RuntimeError as exc:
        pytest.fail(f"actionlint could not run: {exc}", pytrace=False)
    assert findings == [], f"{linter}:\n" + "\n".join(map(str, findings))


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    from kit.actionlint import lint

    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    needs: [nosuchjob]\n"
                      "    steps:\n      - run: echo ${{ github.nosuchfield }}\n")
    _, findings = lint([str(broken)])
    messages = " | ".join(f.message for f in findings)
    assert "nosuchjob" in messages, messages


def test_each_stage_needs_the_previous_one() -> None:
    jobs = _jobs("deploy.yml")
    stage_jobs = _stage_jobs()
    for previous, stage in itertools.pairwise(STAGES):
        needs = _needs(jobs[stage_jobs[stage]])
        assert needs == [stage_jobs[previous]], f"{stage_jobs[stage]} needs {needs}, expected [{stage_jobs[previous]}]"


def test_dev_deploys_the_packaged_release() -> None:
    job = _jobs("deploy.yml")[_stage_jobs()["dev"]]
    assert _needs(job) == ["package"]
    assert re.search(r"make deploy ENV=dev RELEASE=\S*build/releases/", _runs(job)), _runs(job)


def test_each_promotion_copies_from_the_previous_stage() -> None:
    jobs = _jobs("deploy.yml")
    stage_jobs = _stage_jobs()
    for previous, stage in itertools.pairwise(STAGES):
        runs = _runs(jobs[stage_jobs[stage]])
        assert re.search(rf"^make promote FROM={previous} TO={stage}\b", runs, re.MULTILINE), (
            f"{stage_jobs[stage]}: {runs!r}"
        )


def test_the_prod_deploy_runs_in_the_prod_environment() -> None:
    prod_jobs = [job for job in _jobs("deploy.yml").values() if re.search(r"\bTO=prod\b", _runs(job))]
    assert len(prod_jobs) == 1
    assert _environment(prod_jobs[0]) == "prod"  # its protection rules (required reviewers) approve it


def test_prod_promotion_passes_approve_prod() -> None:
    runs = _runs(_jobs("deploy.yml")[_stage_jobs()["prod"]])
    assert re.search(r"^make promote FROM=staging TO=prod\b.*\bAPPROVE=prod\b", runs, re.MULTILINE), runs


def test_only_prod_is_approved_for_prod() -> None:
    jobs = _jobs("deploy.yml")
    for job_id, job in jobs.items():
        if _environment(job) != "prod":
            assert "APPROVE=prod" not in _runs(job), f"{job_id} passes APPROVE=prod"


def test_no_workflow_holds_long_lived_aws_keys() -> None:
    for path in sorted(GITHUB.rglob("*.y*ml")):
        hits = LONG_LIVED_KEYS.findall(path.read_text(encoding="utf-8"))
        assert not hits, f"{path.relative_to(ROOT)} mentions long-lived AWS keys: {hits}"


def test_aws_credentials_come_from_an_oidc_role_variable() -> None:
    for name, workflow in _workflows().items():
        for job_id, job in workflow["jobs"].items():
            for step in job.get("steps", []):
                if step.get("uses", "").startswith(OIDC_ACTIONS):
                    role = step.get("with", {}).get("role-arn") or step.get("with", {}).get("role-to-assume")
                    assert re.fullmatch(r"\$\{\{ vars\.AWS_(DEPLOY|READONLY)_ROLE_ARN \}\}", role or ""), (
                        f"{name}:{job_id} assumes {role!r}"
                    )


def test_only_jobs_that_assume_a_role_get_an_oidc_token() -> None:
    for name, workflow in _workflows().items():
        assert "id-token" not in (workflow.get("permissions") or {}), f"{name} grants id-token to every job"
        for job_id, job in workflow["jobs"].items():
            assumes_role = any(uses.startswith(OIDC_ACTIONS) for uses in _uses(job))
            token = (job.get("permissions") or {}).get("id-token")
            assert (token == "write") == assumes_role, (
                f"{name}:{job_id}: id-token={token}, assumes a role={assumes_role}"
            )


def test_every_job_has_a_timeout() -> None:
    for name, workflow in _workflows().items():
        for job_id, job in workflow["jobs"].items():
            if "uses" in job:  # a reusable workflow call: its own jobs carry the timeouts (checked here too)
                assert job["uses"].startswith("./.github/workflows/"), f"{name}:{job_id} calls {job['uses']}"
                continue
            timeout = job.get("timeout-minutes")
            assert isinstance(timeout, int), f"{name}:{job_id} has no timeout-minutes"
            assert 0 < timeout <= MAX_TIMEOUT_MINUTES, f"{name}:{job_id} timeout-minutes={timeout}"


def test_the_release_is_built_only_by_the_package_job() -> None:
    builders = [
        f"{name}:{job_id}"
        for name, workflow in _workflows().items()
        for job_id, job in workflow["jobs"].items()
        if re.search(r"\bmake\s+package\b", _runs(job))
    ]
    assert builders == ["deploy.yml:package"]


def test_the_package_job_uploads_the_release_named_after_its_id() -> None:
    job = _jobs("deploy.yml")["package"]
    assert job["outputs"]["release"] == "${{ steps.package.outputs.release }}"
    upload = next(step for step in job["steps"] if step.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["name"] == "release-${{ steps.package.outputs.release }}"
    assert upload["with"]["path"].rstrip("/") == "build/releases"


def test_dev_downloads_the_release_instead_of_rebuilding() -> None:
    job = _jobs("deploy.yml")[_stage_jobs()["dev"]]
    download = next(step for step in job["steps"] if step.get("uses", "").startswith("actions/download-artifact@"))
    assert download["with"]["name"] == "release-${{ needs.package.outputs.release }}"
    assert download["with"]["path"].rstrip("/") == "build/releases"


def test_deploys_are_never_cancelled_midway() -> None:
    concurrency = _load(WORKFLOWS / "deploy.yml")["concurrency"]
    assert concurrency["group"] == "deploy-main"
    assert concurrency.get("cancel-in-progress", False) is False


def test_ci_runs_every_gate() -> None:
    runs = "\n".join(_runs(job) for job in _jobs("ci.yml").values())
    for target in ("lint", "test", "synth", "validate", "policy-scan"):
        assert re.search(rf"^make {target}$", runs, re.MULTILINE), f"ci.yml never runs make {target}"


def test_ci_only_reads_the_repository() -> None:
    ci = _load(WORKFLOWS / "ci.yml")
    assert ci["permissions"] == {"contents": "read"}
    assert all("permissions" not in job for job in ci["jobs"].values())


def test_drift_checks_every_environment_independently() -> None:
    job = _jobs("drift.yml")["drift"]
    assert job["strategy"]["matrix"]["env"] == list(STAGES)
    assert job["strategy"]["fail-fast"] is False
    assert re.search(r"^make drift ENV=\"?\$\{?DRIFT_ENV\}?\"?", _runs(job), re.MULTILINE), _runs(job)
    assert job["steps"][-1]["env"]["DRIFT_ENV"] == "${{ matrix.env }}"


def test_drift_uses_read_only_roles() -> None:
    job = _jobs("drift.yml")["drift"]
    roles = {step["with"]["role-arn"] for step in job["steps"] if step.get("uses", "").startswith(OIDC_ACTIONS)}
    assert roles == {"${{ vars.AWS_READONLY_ROLE_ARN }}"}
    assert _environment(job) == "${{ matrix.env }}-readonly"  # not the deploy environments and their roles
