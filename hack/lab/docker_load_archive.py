"""Wrap a root filesystem tar into an archive that `docker load` accepts.

Why not `docker import --platform`: Docker 20.10 (Debian bookworm's docker.io)
records the daemon's own architecture on import, and a later
`docker run --platform linux/arm64` then goes looking for the image on Docker Hub.
An image config written here carries the architecture and variant we mean.

The archive has the layout of `docker save`: the image config as <id>.json,
one directory per layer with layer.tar and VERSION, manifest.json and the
legacy `repositories` file. Docker computes the image id as the sha256 of the
config bytes, so the id printed on stdout is the one `docker image inspect`
shows after loading: callers compare the two to skip a load.

Standard library only: hack/lab/images.sh runs it with the machine's python3,
before any virtualenv exists.
"""

import argparse
import hashlib
import io
import json
import os
import sys
import tarfile
import time


def sha256_file(path, bufsize=1 << 20):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(bufsize), b""):
            digest.update(chunk)
    return digest.hexdigest()


def rfc3339(unix_time):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(unix_time))


def image_config(args, diff_id):
    created = rfc3339(args.created)
    config = {
        "Env": args.env,
        "Cmd": args.cmd,
        "Labels": dict(label.split("=", 1) for label in args.label) or None,
    }
    if args.stop_signal:
        config["StopSignal"] = args.stop_signal
    document = {
        "architecture": args.arch,
        "os": args.os,
        "config": {k: v for k, v in config.items() if v},
        "created": created,
        "history": [{"created": created, "created_by": args.created_by}],
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + diff_id]},
    }
    if args.variant:
        document["variant"] = args.variant
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def add_bytes(archive, name, data, mtime):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = mtime
    info.mode = 0o644
    archive.addfile(info, io.BytesIO(data))


def write_archive(args):
    diff_id = sha256_file(args.layer)
    config = image_config(args, diff_id)
    image_id = hashlib.sha256(config).hexdigest()
    repo, separator, tag = args.tag.rpartition(":")
    if not separator or not repo or not tag or "/" in tag:
        raise SystemExit(f"--tag {args.tag!r}: expected REPOSITORY:TAG")
    manifest = [{
        "Config": image_id + ".json",
        "RepoTags": [args.tag],
        "Layers": [diff_id + "/layer.tar"],
    }]
    repositories = {repo: {tag: diff_id}}
    layer_json = {"id": diff_id, "created": rfc3339(args.created), "os": args.os}

    tmp = args.output + ".part"
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as archive:
        info = tarfile.TarInfo(diff_id)
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        info.mtime = args.created
        archive.addfile(info)
        add_bytes(archive, diff_id + "/VERSION", b"1.0", args.created)
        add_bytes(archive, diff_id + "/json", json.dumps(layer_json).encode(), args.created)
        archive.add(args.layer, arcname=diff_id + "/layer.tar", recursive=False)
        add_bytes(archive, image_id + ".json", config, args.created)
        add_bytes(archive, "manifest.json", json.dumps(manifest).encode(), args.created)
        add_bytes(archive, "repositories", json.dumps(repositories).encode(), args.created)
    os.replace(tmp, args.output)
    return "sha256:" + image_id


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layer", required=True, help="uncompressed tar of the root filesystem")
    parser.add_argument("--tag", required=True, help="REPOSITORY:TAG recorded in the archive")
    parser.add_argument("--output", required=True, help="archive to write (replaced atomically)")
    parser.add_argument("--arch", required=True, help="OCI architecture (GOARCH): amd64, arm64, mips64le, loong64")
    parser.add_argument("--variant", default="", help="OCI variant, e.g. v8 for arm64")
    parser.add_argument("--os", default="linux")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE, repeatable")
    parser.add_argument("--label", action="append", default=[], help="KEY=VALUE, repeatable")
    parser.add_argument("--stop-signal", default="")
    parser.add_argument("--created-by", default=os.path.basename(sys.argv[0]))
    parser.add_argument("--created", type=int, default=int(time.time()), help="UNIX time")
    parser.add_argument("cmd", nargs="*", help="default command (after --)")
    args = parser.parse_args(argv)
    for label in args.label:
        if "=" not in label:
            parser.error(f"--label {label!r}: expected KEY=VALUE")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    print(write_archive(args))


if __name__ == "__main__":
    main()
