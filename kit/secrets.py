"""Secrets the pipeline needs but Terraform must never hold.

The cleanse plug-in tokenises PII with a keyed HMAC-SHA256. Its key is an SSM SecureString
(``/<prefix>/tokenisation-key``) encrypted with the environment's KMS key. If Terraform created
it, the value would sit in the state file; so the kit creates it after ``apply``, once, with a
random 256-bit value that is never printed, logged or written anywhere else. Redeploying keeps
the existing key (tokens stay stable); rotating it is a deliberate act (``rotate=True``).
"""

from __future__ import annotations

import secrets

TOKENISATION_KEY = "tokenisation-key"
KEY_BYTES = 32


def parameter_name(name_prefix: str, name: str = TOKENISATION_KEY) -> str:
    return f"/{name_prefix}/{name}"


def ensure_tokenisation_key(ssm, *, name_prefix: str, kms_alias: str, rotate: bool = False) -> bool:
    """Create the key unless it exists; True when a new key was written."""
    name = parameter_name(name_prefix)
    if not rotate:
        try:
            ssm.get_parameter(Name=name)  # metadata only: not decrypted, not returned
            return False
        except ssm.exceptions.ParameterNotFound:
            pass
    ssm.put_parameter(
        Name=name,
        Description="pipeline-kit: HMAC-SHA256 key for PII tokenisation (written by the kit, never by Terraform)",
        Value=secrets.token_hex(KEY_BYTES),
        Type="SecureString",
        KeyId=kms_alias,
        Overwrite=rotate,
    )
    return True
