"""One way to reach S3-compatible storage, for the store, `kiln serve export` and the Katib
trial alike: the endpoint from KILN_S3_ENDPOINT_URL (or AWS_ENDPOINT_URL, the variable the
AWS tools read), credentials and region from the usual AWS_* variables and files."""

from __future__ import annotations

import os
from typing import Any

from kiln.errors import UserError


def endpoint(default: str | None = None) -> str | None:
    return os.environ.get("KILN_S3_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL") or default


def client(*, default_endpoint: str | None = None, retries: int = 5,
           pool: int = 10) -> Any:
    """A boto3 S3 client for the resolved endpoint."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise UserError("S3 needs boto3", hint="pip install 'kilnflow[s3]'") from None
    return boto3.client("s3", endpoint_url=endpoint(default_endpoint),
                        config=Config(retries={"max_attempts": retries, "mode": "standard"},
                                      max_pool_connections=pool))
