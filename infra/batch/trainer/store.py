"""Where a run's objects live: an S3 bucket (boto3), or a local folder that
mirrors the bucket's key layout (a key is a path under the folder), as
lorafn's Dir store does. Checkpoint files are written create-only and the
LATEST pointer moves with a conditional write."""

import hashlib
import os
import tempfile


class PreconditionFailed(Exception):
    pass


def open_store(spec):
    if spec.startswith("s3://"):
        bucket, _, prefix = spec[5:].partition("/")
        return S3Store(bucket, prefix)
    return DirStore(spec)


class DirStore:
    def __init__(self, root):
        if not os.path.isdir(root):
            raise FileNotFoundError("store %s: no such folder" % root)
        self.root = root

    def _path(self, key):
        parts = key.split("/")
        if any(p in ("", ".", "..", ".lorafn-tmp") for p in parts):
            raise ValueError("store: bad key %r" % key)
        return os.path.join(self.root, *parts)

    def get(self, key):
        """(bytes, etag), or (None, None) when the key does not exist."""
        try:
            with open(self._path(key), "rb") as f:
                b = f.read()
        except FileNotFoundError:
            return None, None
        return b, hashlib.md5(b).hexdigest()

    def put(self, key, body, if_none_match=False, if_match=None):
        path = self._path(key)
        cur, etag = self.get(key)
        if if_none_match and cur is not None:
            raise PreconditionFailed(key)
        if if_match is not None and etag != if_match:
            raise PreconditionFailed(key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmpdir = os.path.join(self.root, ".lorafn-tmp")  # skipped by lorafn's listings
        os.makedirs(tmpdir, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=tmpdir)
        with os.fdopen(fd, "wb") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def list(self, prefix):
        base = self._path(prefix.rstrip("/")) if prefix.strip("/") else self.root
        out = []
        for d, dirs, files in os.walk(base):
            dirs[:] = [x for x in dirs if x != ".lorafn-tmp"]
            for name in files:
                rel = os.path.relpath(os.path.join(d, name), self.root)
                out.append(rel.replace(os.sep, "/"))
        return sorted(out)

    def local_folder(self, prefix):
        """A folder holding the objects under prefix, without copying."""
        return self._path(prefix.rstrip("/"))


class S3Store:
    """A bucket through boto3. AWS_ENDPOINT_URL_S3 (or AWS_ENDPOINT_URL)
    points it at another S3-protocol server, addressed path-style."""

    def __init__(self, bucket, prefix=""):
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise RuntimeError("s3:// stores need boto3 (pip install boto3, or apt-get install python3-boto3)") from None
        kw = {}
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        if endpoint:
            kw = {"endpoint_url": endpoint, "config": Config(s3={"addressing_style": "path"})}
        self.s3 = boto3.client("s3", **kw)
        self.bucket, self.prefix = bucket, prefix.strip("/") + "/" if prefix.strip("/") else ""

    def get(self, key):
        try:
            r = self.s3.get_object(Bucket=self.bucket, Key=self.prefix + key)
        except self.s3.exceptions.NoSuchKey:
            return None, None
        return r["Body"].read(), r["ETag"]

    def put(self, key, body, if_none_match=False, if_match=None):
        from botocore.exceptions import ClientError

        # The conditional headers are added to the request itself, so that
        # boto3 releases from before S3's conditional writes send them too.
        headers = {}
        if if_none_match:
            headers["If-None-Match"] = "*"
        if if_match is not None:
            headers["If-Match"] = if_match

        def add_headers(request, **_):
            for k, v in headers.items():
                request.headers[k] = v

        events = self.s3.meta.events
        events.register_first("before-sign.s3.PutObject", add_headers)
        try:
            self.s3.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=body)
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code")
            if code in ("PreconditionFailed", "ConditionalRequestConflict", "412", "409"):
                raise PreconditionFailed(key) from None
            raise
        finally:
            events.unregister("before-sign.s3.PutObject", add_headers)

    def list(self, prefix):
        out = []
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix + prefix)
        for page in pages:
            out += [o["Key"][len(self.prefix):] for o in page.get("Contents", [])]
        return sorted(out)

    def local_folder(self, prefix):
        return None


def download(store, prefix, dest):
    """The objects under prefix as a local folder (dest is used for S3)."""
    local = store.local_folder(prefix)
    if local is not None:
        if not os.path.isdir(local):
            raise FileNotFoundError("store: nothing under %s" % prefix)
        return local
    keys = store.list(prefix)
    if not keys:
        raise FileNotFoundError("store: nothing under %s" % prefix)
    for key in keys:
        path = os.path.join(dest, *key[len(prefix):].split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        body, _ = store.get(key)
        with open(path, "wb") as f:
            f.write(body)
    return dest


def put_once(store, key, body):
    """Create-only write; an existing object with the same bytes is fine (a
    retried job writes the same checkpoint), a different one is an error."""
    try:
        store.put(key, body, if_none_match=True)
    except PreconditionFailed:
        cur, _ = store.get(key)
        if cur != body:
            raise RuntimeError("store: %s already exists with other contents" % key) from None
