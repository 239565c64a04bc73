"""Where the store's files live: a local folder or an S3-compatible bucket.

A backend only knows named, immutable files ("data/ab/ab12...", "index/...", "locks/...").
Every write is atomic: a reader sees a file whole or not at all.
"""

from __future__ import annotations

import abc
import os
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

from kiln.errors import StoreError, UserError


class Backend(abc.ABC):
    """Named files. Names are '/'-separated and never contain '..'."""

    url: str

    @abc.abstractmethod
    def put(self, name: str, data: bytes) -> None:
        """Write a whole file atomically (replacing one of that name)."""

    @abc.abstractmethod
    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes: ...

    @abc.abstractmethod
    def list(self, prefix: str) -> Iterator[tuple[str, int]]:
        """(name, size) of every file whose name starts with `prefix`."""

    @abc.abstractmethod
    def delete(self, name: str) -> None:
        """Remove a file; removing a missing file is not an error."""

    @abc.abstractmethod
    def exists(self, name: str) -> bool: ...


# Set to 1 to skip fsync (faster on slow disks): a power cut or kernel crash may then lose or
# truncate packs and index files that records already name. Off by default.
UNSAFE_NO_FSYNC = "KILN_UNSAFE_NO_FSYNC"


class LocalBackend(Backend):
    """A folder. Every put is durable when it returns: the file is fsynced before it is
    renamed into place and its folder after (docs/store-format.md, Durability)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.url = str(self.root)
        self.fsync = os.environ.get(UNSAFE_NO_FSYNC) != "1"
        (self.root / "tmp").mkdir(parents=True, exist_ok=True)
        # Restores read thousands of blobs from the same packs: keep a few packs open and
        # pread them (thread-safe, no seek) instead of opening a pack per blob.
        self._fds: OrderedDict[str, int] = OrderedDict()
        self._fd_lock = threading.Lock()

    def _fd(self, name: str) -> int:
        with self._fd_lock:
            fd = self._fds.get(name)
            if fd is not None:
                self._fds.move_to_end(name)
                return fd
        fd = os.open(self.root / name, os.O_RDONLY)
        with self._fd_lock:
            if name in self._fds:
                os.close(fd)
                return self._fds[name]
            self._fds[name] = fd
            while len(self._fds) > 64:
                os.close(self._fds.popitem(last=False)[1])
        return fd

    def __del__(self) -> None:
        for fd in getattr(self, "_fds", {}).values():
            try:
                os.close(fd)
            except OSError:
                pass

    def _path(self, name: str) -> Path:
        return self.root / name

    def put(self, name: str, data: bytes) -> None:
        dest = self._path(name)
        tmp = self.root / "tmp" / f"{uuid.uuid4().hex}.part"
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                if self.fsync:
                    f.flush()
                    os.fsync(f.fileno())
            made = [p for p in [dest.parent, *dest.parent.parents] if not p.is_dir()]
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, dest)
            if self.fsync:
                sync_dir(dest.parent)
                for folder in made:  # a new folder's own entry lives in its parent
                    sync_dir(folder.parent)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise StoreError(f"cannot write {name} in the store at {self.root}: {e.strerror}",
                             hint="free disk space or check the folder's permissions") from e

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        if length is not None and name.startswith("data/"):
            try:
                return os.pread(self._fd(name), length, offset)
            except FileNotFoundError as e:
                raise StoreError(f"{name} is missing from the store at {self.root}",
                                 hint="run `kiln store check` to see what it affects") from e
        try:
            with open(self._path(name), "rb") as f:
                if offset:
                    f.seek(offset)
                return f.read() if length is None else f.read(length)
        except FileNotFoundError as e:
            raise StoreError(f"{name} is missing from the store at {self.root}",
                             hint="run `kiln store check` to see what it affects") from e

    def list(self, prefix: str) -> Iterator[tuple[str, int]]:
        head, _, _ = prefix.rpartition("/")
        base = self._path(head) if head else self.root
        if not base.is_dir():
            return
        for dirpath, _dirs, files in os.walk(base):
            for f in files:
                full = os.path.join(dirpath, f)
                name = os.path.relpath(full, self.root).replace(os.sep, "/")
                if name.startswith(prefix) and not name.startswith("tmp/"):
                    try:
                        yield name, os.stat(full).st_size
                    except FileNotFoundError:
                        continue  # removed while we listed

    def delete(self, name: str) -> None:
        with self._fd_lock:
            fd = self._fds.pop(name, None)
        if fd is not None:
            os.close(fd)
        self._path(name).unlink(missing_ok=True)

    def exists(self, name: str) -> bool:
        return self._path(name).exists()

    def clean_tmp(self) -> int:
        """Remove files a crashed writer left in tmp/; returns how many."""
        n = 0
        for p in (self.root / "tmp").iterdir():
            p.unlink(missing_ok=True)
            n += 1
        return n


class S3Backend(Backend):
    """An S3 bucket (AWS, MinIO, Ceph...): `s3://bucket/prefix`.

    The endpoint comes from KILN_S3_ENDPOINT_URL (or AWS_ENDPOINT_URL), credentials from the
    usual AWS_* variables. S3 PUTs are atomic, so no temp names are needed.
    """

    def __init__(self, url: str) -> None:
        from kiln import s3

        rest = url[len("s3://"):]
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            raise UserError(f"'{url}' names no bucket", where="KILN_STORE",
                            hint="write it as s3://BUCKET/PREFIX")
        self.url = url
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        endpoint = s3.endpoint()
        self.s3 = s3.client(pool=16)
        from botocore.exceptions import BotoCoreError, ClientError

        self._errors = (BotoCoreError, ClientError)
        try:
            self.s3.head_bucket(Bucket=bucket)
        except self._errors as e:
            raise StoreError(f"cannot reach the bucket '{bucket}' at {endpoint or 'AWS'}: {e}",
                             hint="check KILN_STORE, KILN_S3_ENDPOINT_URL and the AWS_* "
                                  "credentials, and that the bucket exists") from e

    def _key(self, name: str) -> str:
        return self.prefix + name

    def put(self, name: str, data: bytes) -> None:
        try:
            self.s3.put_object(Bucket=self.bucket, Key=self._key(name), Body=data)
        except self._errors as e:
            raise StoreError(f"cannot write {name} to {self.url}: {e}") from e

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        kw = {}
        if offset or length is not None:
            end = "" if length is None else str(offset + length - 1)
            kw["Range"] = f"bytes={offset}-{end}"
        try:
            data: bytes = self.s3.get_object(Bucket=self.bucket, Key=self._key(name),
                                             **kw)["Body"].read()
            return data
        except self._errors as e:
            raise StoreError(f"cannot read {name} from {self.url}: {e}",
                             hint="run `kiln store check` to see what it affects") from e

    def list(self, prefix: str) -> Iterator[tuple[str, int]]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._key(prefix))
        for page in pages:
            for obj in page.get("Contents", []):
                yield obj["Key"][len(self.prefix):], obj["Size"]

    def delete(self, name: str) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=self._key(name))

    def exists(self, name: str) -> bool:
        try:
            self.s3.head_object(Bucket=self.bucket, Key=self._key(name))
            return True
        except self._errors:
            return False


def sync_dir(path: Path) -> None:
    """Make a rename or a new entry in `path` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_backend(location: str) -> Backend:
    """`s3://bucket/prefix` or a local folder path."""
    if location.startswith("s3://"):
        return S3Backend(location)
    if "://" in location:
        raise UserError(f"unsupported store location '{location}'", where="KILN_STORE",
                        hint="use a folder path or s3://BUCKET/PREFIX")
    return LocalBackend(location)
