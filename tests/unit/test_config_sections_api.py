"""environments.sections.api: the [api] limits: defaults, bounds named in the error, the
PIPELINE_API_* variables the API function gets, and the value each environment file sets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from environments.config import ConfigError, _build, load_all
from environments.sections.api import MAX_SYNC_BYTES, MAX_UPLOAD_BYTES, ApiConfig


def build(data: dict[str, Any]) -> ApiConfig:
    return _build(ApiConfig, data, Path("x.toml"), "api")


def test_an_empty_section_takes_the_defaults() -> None:
    assert build({}) == ApiConfig(sync_max_bytes=1048576, sync_max_rows=10000, presign_expiry_seconds=900,
                                  upload_max_bytes=1073741824)


def test_the_environment_holds_every_limit_under_its_variable() -> None:
    assert ApiConfig(sync_max_bytes=2048, sync_max_rows=5, presign_expiry_seconds=60,
                     upload_max_bytes=7).environment() == {
        "PIPELINE_API_SYNC_MAX_BYTES": "2048",
        "PIPELINE_API_SYNC_MAX_ROWS": "5",
        "PIPELINE_API_PRESIGN_EXPIRY_SECONDS": "60",
        "PIPELINE_API_UPLOAD_MAX_BYTES": "7",
    }


@pytest.mark.parametrize(("field", "value", "bounds"), [
    ("sync_max_bytes", MAX_SYNC_BYTES + 1, f"1024 and {MAX_SYNC_BYTES}"),
    ("sync_max_rows", 0, "1 and 100000"),
    ("presign_expiry_seconds", 3601, "60 and 3600"),
    ("upload_max_bytes", MAX_UPLOAD_BYTES + 1, f"1 and {MAX_UPLOAD_BYTES}"),
])
def test_a_limit_out_of_bounds_fails_naming_the_field(field: str, value: int, bounds: str) -> None:
    with pytest.raises(ConfigError) as info:
        build({field: value})
    assert str(info.value).startswith(f"x.toml: api.{field}: ")
    assert bounds in str(info.value)


def test_an_unknown_key_fails_naming_it() -> None:
    with pytest.raises(ConfigError) as info:
        build({"sync_max_mb": 1})
    assert str(info.value).startswith("x.toml: api.sync_max_mb: unknown key")


def test_local_admits_smaller_uploads_than_the_aws_environments() -> None:
    sizes = {name: cfg.api.upload_max_bytes for name, cfg in load_all().items()}
    assert sizes == {"local": 104857600, "dev": 1073741824, "test": 1073741824, "staging": 1073741824,
                     "prod": 1073741824}
