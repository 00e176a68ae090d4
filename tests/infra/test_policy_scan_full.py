"""The whole policy scan (checkov and the kit's rules, with the suppressions) over every
environment and over prod with every optional service on: no unsuppressed failure, and no
suppression left that nothing needs. checkov as in ``test_checkov_scan.py``: missing fails,
unless ``PIPELINE_KIT_SKIP_CHECKOV=1``."""

from __future__ import annotations

from pathlib import Path

import pytest

from environments import ALL_ENVIRONMENTS, load_environment
from kit import checkov_scan
from kit.policy_scan import SERVICES_SCAN, SUPPRESSIONS, Scanned, every_service_on, scan_all

SCANS = (*ALL_ENVIRONMENTS, SERVICES_SCAN)


@pytest.fixture(scope="module")
def results(stacks, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Scanned]:
    import json

    import main

    if checkov_scan.python() is None:
        if checkov_scan.skip_allowed():
            pytest.skip(f"checkov is not installed and {checkov_scan.SKIP_ENV} is set")
        pytest.fail(f"checkov is not installed in .tools/checkov: run `make checkov` (`make test` does), "
                    f"or set {checkov_scan.SKIP_ENV}=1 to skip the checkov tests", pytrace=False)
    root = tmp_path_factory.mktemp("policy-scan")
    services = every_service_on("prod")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PIPELINE_KIT_WORKDIR", str(root))
        sdir = main.synth([services], outdir=root / "services" / "cdktf.out")["prod"]
    scanned = {env: (stacks[env], load_environment(env)) for env in ALL_ENVIRONMENTS}
    scanned[SERVICES_SCAN] = (json.loads((Path(sdir) / "cdk.tf.json").read_text(encoding="utf-8")), services)
    return {r.name: r for r in scan_all(scanned, root)}


@pytest.mark.parametrize("name", SCANS)
def test_no_unsuppressed_failure(results, name):
    result = results[name]
    failures = [f"{f.check_id} {f.address}: {f.check_name}" for f in result.failed]
    failures += [f"kit {f.address}: {f.rule}" for f in result.findings]
    assert failures == [], f"{name}: {len(failures)} unsuppressed failure(s)"


def test_every_scoped_suppression_is_still_needed(results):
    used = {reason for r in results.values() for _, reason in r.suppressed}
    assert [s for s in SUPPRESSIONS if s.reason not in used] == []


def test_every_skip_in_the_suppression_file_is_still_needed(results):
    used = {f.check_id for r in results.values() for f, _ in r.suppressed}
    assert sorted(set(checkov_scan.load_config().skips) - used) == []
