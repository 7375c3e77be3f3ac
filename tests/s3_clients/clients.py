"""Real S3 clients (the aws CLI and boto3) against Atelier's S3 door.

Run by tests/api/s3_door.rs, which starts the server, makes the users and their keys and passes
them in the environment; one scenario per run: `clients.py aws_cli|isolation|bad_input`.
Every check is an assert; the first failure ends the run with a non-zero status.
"""

import hashlib
import http.client
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib

import boto3
import botocore
import botocore.auth
from botocore.config import Config
from botocore.exceptions import ClientError

ENV = os.environ
ENDPOINT = ENV["S3_ENDPOINT"]
API = ENV["API_URL"]
BUCKET = "images"


def png(width, height, seed=0, level=6, noise=False):
    """A valid RGB PNG; `noise` makes it incompressible (for big files, with level 0)."""
    if noise:
        raw = b"".join(b"\0" + os.urandom(width * 3) for _ in range(height))
    else:
        row = bytes((x * 7 + seed * 31 + y) % 256 for y in range(1) for x in range(width * 3))
        raw = b"".join(b"\0" + row[y % 3:] + row[: y % 3] for y in range(height))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, level)) + chunk(b"IEND", b""))


def client(key, secret, **config):
    return boto3.client("s3", endpoint_url=ENDPOINT, aws_access_key_id=key,
                        aws_secret_access_key=secret, region_name="us-east-1",
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                                      **config))


def aws(*args, key=None, secret=None, check=True):
    env = dict(ENV, AWS_ACCESS_KEY_ID=key or ENV["A_KEY"],
               AWS_SECRET_ACCESS_KEY=secret or ENV["A_SECRET"], AWS_DEFAULT_REGION="us-east-1",
               AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    done = subprocess.run([ENV["AWS"], "--endpoint-url", ENDPOINT, *args], env=env,
                          capture_output=True, text=True, timeout=600)
    if check and done.returncode != 0:
        raise AssertionError(f"aws {' '.join(args)} failed: {done.stdout}\n{done.stderr}")
    return done


def api(path, token, method="GET", body=None):
    request = urllib.request.Request(API + path, method=method,
                                     headers={"Authorization": f"Bearer {token}",
                                              "Content-Type": "application/json"},
                                     data=None if body is None else json.dumps(body).encode())
    try:
        with urllib.request.urlopen(request) as response:
            text = response.read()
            return response.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def error_code(call):
    try:
        call()
    except ClientError as error:
        return error.response["Error"]["Code"]
    raise AssertionError("the call succeeded")


def gallery(token):
    status, page = api("/api/v1/images?limit=100", token)
    assert status == 200, page
    return page["items"]


def keys_of(s3, prefix=""):
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def sha(data):
    return hashlib.sha256(data).hexdigest()


def aws_cli():
    work = tempfile.mkdtemp()
    a = client(ENV["A_KEY"], ENV["A_SECRET"])
    assert "images" in aws("s3", "ls").stdout
    assert aws("s3", "ls", "s3://images/").stdout.strip() == ""

    # cp up and down, byte-identical; head-object metadata.
    one = png(64, 48, seed=1)
    with open(f"{work}/one.png", "wb") as f:
        f.write(one)
    aws("s3", "cp", f"{work}/one.png", "s3://images/Holiday/one.png")
    aws("s3", "cp", "s3://images/Holiday/one.png", f"{work}/back.png")
    assert open(f"{work}/back.png", "rb").read() == one
    head = json.loads(aws("s3api", "head-object", "--bucket", BUCKET, "--key", "Holiday/one.png").stdout)
    assert head["ContentLength"] == len(one), head
    assert head["ContentType"] == "image/png", head
    assert "LastModified" in head and "ETag" in head, head
    listed = aws("s3", "ls", "s3://images/Holiday/").stdout
    assert "one.png" in listed and str(len(one)) in listed, listed

    # The gallery sees it: in a board named Holiday, with a thumbnail and its file name.
    image = next(i for i in gallery(ENV["A_TOKEN"]) if i.get("file_name") == "one.png")
    status, boards = api("/api/v1/boards", ENV["A_TOKEN"])
    holiday = next(b for b in boards["boards"] if b["name"] == "Holiday")
    assert image["board_id"] == holiday["id"], image
    request = urllib.request.Request(API + image["thumbnail_url"],
                                     headers={"Authorization": f"Bearer {ENV['A_TOKEN']}"})
    with urllib.request.urlopen(request) as response:
        assert response.headers["Content-Type"] == "image/webp"

    # sync a folder of 20 images up, then down into an empty folder; a second sync sends nothing.
    os.makedirs(f"{work}/up")
    originals = {}
    for i in range(20):
        data = png(40 + i, 30, seed=i)
        originals[f"img{i:02}.png"] = data
        with open(f"{work}/up/img{i:02}.png", "wb") as f:
            f.write(data)
    aws("s3", "sync", f"{work}/up", "s3://images/Synced/")
    assert sorted(keys_of(a, "Synced/")) == sorted(f"Synced/{n}" for n in originals)
    again = aws("s3", "sync", f"{work}/up", "s3://images/Synced/").stdout
    assert "upload:" not in again, again
    aws("s3", "sync", "s3://images/Synced/", f"{work}/down")
    for name, data in originals.items():
        assert open(f"{work}/down/{name}", "rb").read() == data, name
    again = aws("s3", "sync", "s3://images/Synced/", f"{work}/down").stdout
    assert "download:" not in again, again

    # mv (a copy and a delete) and rm.
    aws("s3", "mv", "s3://images/Synced/img00.png", "s3://images/Moved/first.png")
    assert "Synced/img00.png" not in keys_of(a)
    assert a.get_object(Bucket=BUCKET, Key="Moved/first.png")["Body"].read() == originals["img00.png"]
    aws("s3", "rm", "s3://images/Synced/img01.png")
    assert "Synced/img01.png" not in keys_of(a)
    assert not [i for i in gallery(ENV["A_TOKEN"]) if i.get("file_name") == "img01.png"]
    aws("s3", "rm", "--recursive", "s3://images/Synced/")
    assert keys_of(a, "Synced/") == []

    # presign, then a plain HTTP GET.
    url = aws("s3", "presign", "s3://images/Holiday/one.png", "--expires-in", "300").stdout.strip()
    with urllib.request.urlopen(url) as response:
        assert response.read() == one

    # A 25 MB image, uploaded in parts, round-trips byte-identical.
    big = png(2900, 2900, noise=True, level=0)
    assert len(big) > 25_000_000, len(big)
    with open(f"{work}/big.png", "wb") as f:
        f.write(big)
    aws("s3", "cp", f"{work}/big.png", "s3://images/Big/big.png")
    aws("s3", "cp", "s3://images/Big/big.png", f"{work}/big-back.png")
    assert sha(open(f"{work}/big-back.png", "rb").read()) == sha(big)
    ranged = a.get_object(Bucket=BUCKET, Key="Big/big.png", Range="bytes=100-199")
    assert ranged["Body"].read() == big[100:200]
    assert ranged["ContentRange"] == f"bytes 100-199/{len(big)}", ranged["ContentRange"]

    # The S3 listing sees browser uploads: an asset uploaded over HTTP, under its file name.
    boundary = "atelierboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"from-browser.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + png(20, 20, seed=9) + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(API + "/api/v1/images", data=body, method="POST", headers={
        "Authorization": f"Bearer {ENV['A_TOKEN']}",
        "Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(request) as response:
        assert response.status == 201
    assert "uncategorized/from-browser.png" in keys_of(a), keys_of(a)
    print("aws_cli: ok")


def isolation():
    a = client(ENV["A_KEY"], ENV["A_SECRET"])
    b = client(ENV["B_KEY"], ENV["B_SECRET"])
    secret_png = png(32, 32, seed=3)
    a.put_object(Bucket=BUCKET, Key="Private/secret.png", Body=secret_png)
    b.put_object(Bucket=BUCKET, Key="Mine/b.png", Body=png(16, 16, seed=4))
    assert keys_of(a) == ["Private/secret.png"], keys_of(a)
    assert keys_of(b) == ["Mine/b.png"], keys_of(b)

    # B, with its own key, against A's names: nothing exists (404 like a missing key).
    assert error_code(lambda: b.get_object(Bucket=BUCKET, Key="Private/secret.png")) == "NoSuchKey"
    assert error_code(lambda: b.head_object(Bucket=BUCKET, Key="Private/secret.png")) == "404"
    assert error_code(lambda: b.copy_object(Bucket=BUCKET, Key="Mine/stolen.png",
                                            CopySource={"Bucket": BUCKET, "Key": "Private/secret.png"})) == "NoSuchKey"
    b.delete_object(Bucket=BUCKET, Key="Private/secret.png")
    b.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "Private/secret.png"}]})
    assert a.get_object(Bucket=BUCKET, Key="Private/secret.png")["Body"].read() == secret_png
    assert keys_of(b, "Private/") == []
    # B writing A's name makes B's own image; A's is untouched, also when B deletes it again.
    b.put_object(Bucket=BUCKET, Key="Private/secret.png", Body=png(10, 10, seed=5))
    assert a.get_object(Bucket=BUCKET, Key="Private/secret.png")["Body"].read() == secret_png
    b.delete_object(Bucket=BUCKET, Key="Private/secret.png")
    assert a.get_object(Bucket=BUCKET, Key="Private/secret.png")["Body"].read() == secret_png
    assert keys_of(b) == ["Mine/b.png"], keys_of(b)
    image_id = next(i["id"] for i in gallery(ENV["A_TOKEN"]) if i.get("file_name") == "secret.png")
    for key in [f"Private/secret~{image_id}.png", f"uncategorized/{image_id}.png",
                f"Private~{image_id}/secret.png"]:
        assert error_code(lambda: b.get_object(Bucket=BUCKET, Key=key)) == "NoSuchKey", key
    assert error_code(lambda: b.list_objects_v2(Bucket="atelier")) == "NoSuchBucket"
    assert error_code(lambda: b.get_object(Bucket="users", Key=f"{ENV['A_ID']}/images/{image_id}.png")) == "NoSuchBucket"

    # Presigned URLs: B's for A's name finds nothing; A's, altered, is refused.
    url = b.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "Private/secret.png"})
    try:
        urllib.request.urlopen(url)
        raise AssertionError("B's presigned URL read A's image")
    except urllib.error.HTTPError as error:
        assert error.code == 404, error.code
    url = a.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "Private/secret.png"})
    with urllib.request.urlopen(url) as response:
        assert response.read() == secret_png
    tampered = url.replace("Private/secret.png", "Mine/b.png")
    try:
        urllib.request.urlopen(tampered)
        raise AssertionError("a tampered presigned URL was accepted")
    except urllib.error.HTTPError as error:
        assert error.code == 403, error.code
        assert b"SignatureDoesNotMatch" in error.read()
    short = a.generate_presigned_url("get_object", ExpiresIn=1,
                                     Params={"Bucket": BUCKET, "Key": "Private/secret.png"})
    time.sleep(2.5)
    try:
        urllib.request.urlopen(short)
        raise AssertionError("an expired presigned URL was accepted")
    except urllib.error.HTTPError as error:
        assert error.code in (400, 403), error.code
        assert b"Private" not in error.read()

    # Unsigned, wrongly signed and unknown keys.
    try:
        urllib.request.urlopen(f"{ENDPOINT}/images/Private/secret.png")
        raise AssertionError("an unsigned request was accepted")
    except urllib.error.HTTPError as error:
        assert error.code == 403, error.code
        assert b"AccessDenied" in error.read()
    wrong = client(ENV["A_KEY"], "x" * 40)
    assert error_code(lambda: wrong.list_objects_v2(Bucket=BUCKET)) == "SignatureDoesNotMatch"
    unknown = client("ATAAAAAAAAAAAAAAAAAA", "x" * 40)
    assert error_code(lambda: unknown.list_objects_v2(Bucket=BUCKET)) == "InvalidAccessKeyId"

    # A read-only key reads and lists, and writes nothing.
    ro = client(ENV["RO_KEY"], ENV["RO_SECRET"])
    assert keys_of(ro) == ["Private/secret.png"]
    assert error_code(lambda: ro.put_object(Bucket=BUCKET, Key="Private/x.png", Body=png(8, 8))) == "AccessDenied"
    assert error_code(lambda: ro.delete_object(Bucket=BUCKET, Key="Private/secret.png")) == "AccessDenied"
    assert keys_of(a) == ["Private/secret.png"]

    # A clock-skewed signature.
    real = botocore.auth.datetime.datetime

    class Skewed(real):
        @classmethod
        def utcnow(cls):
            return real.utcnow() - botocore.auth.datetime.timedelta(hours=2)

        @classmethod
        def now(cls, tz=None):
            return real.now(tz) - botocore.auth.datetime.timedelta(hours=2)

    botocore.auth.datetime.datetime = Skewed
    try:
        assert error_code(lambda: client(ENV["A_KEY"], ENV["A_SECRET"]).list_objects_v2(Bucket=BUCKET)) \
            == "RequestTimeTooSkewed"
    finally:
        botocore.auth.datetime.datetime = real

    # Revoking a key over the API takes effect on the next request.
    status, _ = api(f"/api/v1/s3/keys/{ENV['B_KEY']}", ENV["B_TOKEN"], method="DELETE")
    assert status == 204, status
    assert error_code(lambda: b.list_objects_v2(Bucket=BUCKET)) == "InvalidAccessKeyId"
    print("isolation: ok")


def bad_input():
    a = client(ENV["A_KEY"], ENV["A_SECRET"])

    def refused(key, body, code):
        got = error_code(lambda: a.put_object(Bucket=BUCKET, Key=key, Body=body))
        assert got == code, (key, got, code)

    refused("Bad/not-an-image.png", b"hello, this is text", "InvalidArgument")
    # A pixel bomb: a tiny file whose header claims 100000 x 100000 pixels.
    bomb = bytearray(png(8, 8))
    bomb[16:24] = struct.pack(">II", 100_000, 100_000)
    bomb[29:33] = struct.pack(">I", zlib.crc32(bytes(bomb[12:29])) & 0xFFFFFFFF)
    refused("Bad/bomb.png", bytes(bomb), "EntityTooLarge")
    refused("../escape.png", png(8, 8), "InvalidArgument")
    refused("Bad/sub/nested.png", png(8, 8), "InvalidArgument")
    refused("root.png", png(8, 8), "InvalidArgument")
    refused("Bad/" + "a" * 3000 + ".png", png(8, 8), "KeyTooLongError")
    try:
        a.put_object(Bucket=BUCKET, Key="Bad/nul\x00.png", Body=png(8, 8))
        raise AssertionError("a key with NUL was accepted")
    except ClientError as error:
        assert error.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 403), error.response
    except ValueError:
        pass  # the client refused to send it

    # A declared length of 6 GB is refused before the body is read.
    url = a.generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": "Bad/huge.png"})
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    connection.putrequest("PUT", parts.path + "?" + parts.query)
    connection.putheader("Content-Length", str(6 * 10**9))
    connection.endheaders()
    connection.send(png(8, 8))
    response = connection.getresponse()
    body = response.read()
    assert response.status == 400 and b"EntityTooLarge" in body, (response.status, body)

    # Over quota: nothing stored.
    status, _ = api(f"/api/v1/auth/users/{ENV['A_ID']}", ENV["ADMIN_TOKEN"], method="PATCH",
                    body={"quota_bytes": 1000})
    assert status == 200, status
    refused("Bad/too-much.png", png(300, 300, noise=True, level=0), "QuotaExceeded")
    assert keys_of(a) == [], keys_of(a)
    assert gallery(ENV["A_TOKEN"]) == []
    print("bad_input: ok")


if __name__ == "__main__":
    {"aws_cli": aws_cli, "isolation": isolation, "bad_input": bad_input}[sys.argv[1]]()
