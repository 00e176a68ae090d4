"""Names of the `local` deployment the end-to-end tests check (from environments/local.toml)."""

ACCOUNT = "123456789012"
PREFIX = "pk-local"


def bucket(purpose: str) -> str:
    return f"{PREFIX}-{purpose}-{ACCOUNT}"
