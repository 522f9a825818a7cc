"""Write a single-architecture OCI image (one layer) as an OCI image layout, no Docker needed.

    python3 hack/images/oci.py build --goarch arm64 --tag 3.10.2 --out DIR \
        --file pause=/path/to/pause:0755 --entrypoint /pause --user 65535:65535

The platform (os, architecture, variant) comes from the collection's architecture model
(plugins/module_utils/model/arch.py), so arm64 becomes linux/arm64/v8 and mips64el linux/mips64le.
Run with PYTHONPATH=$XC_ROOT/.collections. The output is reproducible: the same inputs give
the same digests (tar entries owned by root with mtime 0, gzip without a timestamp, a fixed
creation date), so a rebuild pushes nothing new.

``--cap DEST=net_bind_service`` gives a file the capability the way ``setcap
cap_net_bind_service=+ep`` does (the security.capability xattr, as a PAX record that
containerd applies when it unpacks the layer), like upstream's CoreDNS image.

``--symlink DEST=TARGET`` adds a symbolic link (busybox's applets: ``bin/sh=busybox``).

``--dir DEST:MODE`` adds an empty directory (``tmp:1777`` for programs that write there as a
user other than root); ``--env KEY=VALUE`` an environment variable beside PATH (``--env PATH=...`` replaces it).

``platform GOARCH`` prints the OCI platform of a GOARCH (linux/arm64/v8).
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import struct
import sys
import tarfile

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
CREATED = "1970-01-01T00:00:00Z"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# linux/capability.h: the few capabilities an image file may need.
CAPABILITIES = {"net_bind_service": 10, "net_raw": 13, "net_admin": 12}
VFS_CAP_REVISION_2 = 0x02000000
VFS_CAP_FLAGS_EFFECTIVE = 0x000001


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def platform_of(goarch):
    """OCI platform dict of any architecture name the model knows."""
    fam = arch.lookup(goarch)
    plat = {"architecture": fam.oci_arch, "os": "linux"}
    if fam.oci_variant:
        plat["variant"] = fam.oci_variant
    return plat


def file_capability(names):
    """security.capability value (VFS_CAP_REVISION_2, effective) for capability names."""
    permitted = 0
    for name in names:
        key = name.lower().replace("cap_", "", 1)
        if key not in CAPABILITIES:
            raise SystemExit("unknown capability %r; known: %s" % (name, ", ".join(sorted(CAPABILITIES))))
        permitted |= 1 << CAPABILITIES[key]
    return struct.pack("<IIIII", VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE,
                       permitted & 0xffffffff, 0, permitted >> 32, 0)


def tar_info(name, kind, mode, size=0):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.size = size
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def make_layer(files, caps, links=(), empty_dirs=()):
    """files: [(dest, src, mode)]; caps: {dest: [capability]}; links: [(dest, target)];
    empty_dirs: [(dest, mode)]. Returns (tar bytes, gzip bytes)."""
    raw = io.BytesIO()
    dirs = set()
    entries = sorted(list(files) + [(dest, None, target) for dest, target in links]
                     + [(dest, "", mode) for dest, mode in empty_dirs])
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for dest, src, mode in entries:
            parts = dest.strip("/").split("/")
            for depth in range(1, len(parts)):
                parent = "/".join(parts[:depth])
                if parent not in dirs:
                    dirs.add(parent)
                    tar.addfile(tar_info(parent + "/", tarfile.DIRTYPE, 0o755))
            if src == "":
                dirs.add("/".join(parts))
                tar.addfile(tar_info("/".join(parts) + "/", tarfile.DIRTYPE, mode))
                continue
            if src is None:
                link = tar_info("/".join(parts), tarfile.SYMTYPE, 0o777)
                link.linkname = mode  # the link's target
                tar.addfile(link)
                continue
            with open(src, "rb") as fh:
                data = fh.read()
            info = tar_info("/".join(parts), tarfile.REGTYPE, mode, len(data))
            if dest in caps:
                value = file_capability(caps[dest])
                # All bytes are < 0x80: tarfile writes them unchanged as a UTF-8 PAX value.
                info.pax_headers = {"SCHILY.xattr.security.capability": value.decode("ascii")}
            tar.addfile(info, io.BytesIO(data))
    tar_bytes = raw.getvalue()
    zipped = io.BytesIO()
    with gzip.GzipFile(fileobj=zipped, mode="wb", mtime=0, compresslevel=6) as gz:
        gz.write(tar_bytes)
    return tar_bytes, zipped.getvalue()


def image_config(plat, diff_id, args):
    env = list(args.env or [])
    # PATH unless the image gives its own (an Env key twice leaves the runtime to pick one).
    if not any(pair.startswith("PATH=") for pair in env):
        env.insert(0, PATH_ENV)
    config = {"Env": env, "WorkingDir": args.workdir or "/"}
    entrypoint = json.loads(args.entrypoint_json) if args.entrypoint_json else args.entrypoint
    cmd = json.loads(args.cmd_json) if args.cmd_json else args.cmd
    if entrypoint:
        config["Entrypoint"] = entrypoint
    if cmd:
        config["Cmd"] = cmd
    if args.user:
        config["User"] = args.user
    if args.expose:
        config["ExposedPorts"] = dict((port, {}) for port in args.expose)
    if args.label:
        config["Labels"] = dict(item.split("=", 1) for item in args.label)
    doc = dict(plat)
    doc.update({
        "created": CREATED,
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": CREATED, "created_by": args.created_by or "hack/images/oci.py"}],
    })
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def write_blob(out, data):
    digest = sha256(data)
    path = os.path.join(out, "blobs", "sha256", digest.split(":", 1)[1])
    with open(path, "wb") as fh:
        fh.write(data)
    return {"digest": digest, "size": len(data)}


def parse_files(specs):
    files, caps = [], {}
    for spec in specs or []:
        dest, rest = spec.split("=", 1)
        src, mode = rest, 0o644
        if ":" in rest:
            src, mode_text = rest.rsplit(":", 1)
            mode = int(mode_text, 8)
        if not os.path.isfile(src):
            raise SystemExit("--file %s: %s is not a file" % (spec, src))
        files.append(("/" + dest.strip("/"), src, mode))
    return files, caps


def build(args):
    plat = platform_of(args.goarch)
    files, caps = parse_files(args.file)
    for spec in args.cap or []:
        dest, names = spec.split("=", 1)
        caps.setdefault("/" + dest.strip("/"), []).extend(names.split(","))
    unknown = set(caps) - set(dest for dest, _src, _mode in files)
    if unknown:
        raise SystemExit("--cap for files not in the image: %s" % ", ".join(sorted(unknown)))
    links = []
    for spec in args.symlink or []:
        dest, target = spec.split("=", 1)
        links.append(("/" + dest.strip("/"), target))
    empty_dirs = []
    for spec in args.dir or []:
        dest, _sep, mode = spec.partition(":")
        empty_dirs.append(("/" + dest.strip("/"), int(mode or "755", 8)))
    paths = ([dest for dest, _src, _mode in files] + [dest for dest, _target in links]
             + [dest for dest, _mode in empty_dirs])
    twice = sorted(set(dest for dest in paths if paths.count(dest) > 1))
    if twice:
        raise SystemExit("paths given twice (--file, --symlink, --dir): %s" % ", ".join(twice))
    tmp = args.out + ".tmp"
    if os.path.exists(tmp):
        for root, dirnames, filenames in os.walk(tmp, topdown=False):
            for name in filenames:
                os.unlink(os.path.join(root, name))
            for name in dirnames:
                os.rmdir(os.path.join(root, name))
        os.rmdir(tmp)
    os.makedirs(os.path.join(tmp, "blobs", "sha256"))
    tar_bytes, layer = make_layer(files, caps, links, empty_dirs)
    config = image_config(plat, sha256(tar_bytes), args)
    config_desc = dict(write_blob(tmp, config), mediaType=OCI_CONFIG)
    layer_desc = dict(write_blob(tmp, layer), mediaType=OCI_LAYER)
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config_desc,
                "layers": [layer_desc]}
    manifest_bytes = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    manifest_desc = dict(write_blob(tmp, manifest_bytes), mediaType=OCI_MANIFEST,
                         platform=plat,
                         annotations={"org.opencontainers.image.ref.name": args.tag})
    with open(os.path.join(tmp, "oci-layout"), "w") as fh:
        json.dump({"imageLayoutVersion": "1.0.0"}, fh)
    with open(os.path.join(tmp, "index.json"), "w") as fh:
        json.dump({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                   "manifests": [manifest_desc]}, fh, sort_keys=True)
    os.rename(tmp, args.out)
    print(json.dumps({"digest": manifest_desc["digest"], "platform": plat,
                      "layer_size": len(layer)}, sort_keys=True))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    plat = sub.add_parser("platform", help="print the OCI platform of a GOARCH")
    plat.add_argument("goarch")
    img = sub.add_parser("build", help="write an OCI image layout")
    img.add_argument("--goarch", required=True)
    img.add_argument("--tag", required=True, help="ref name inside the layout")
    img.add_argument("--out", required=True, help="layout directory (must not exist)")
    img.add_argument("--file", action="append", help="DEST=SRC[:MODE] (octal mode)")
    img.add_argument("--cap", action="append", help="DEST=capability[,capability]")
    img.add_argument("--symlink", action="append", help="DEST=TARGET (a symbolic link)")
    img.add_argument("--dir", action="append", help="DEST[:MODE] (an empty directory, octal mode)")
    img.add_argument("--env", action="append", help="KEY=VALUE")
    img.add_argument("--entrypoint", nargs="+")
    img.add_argument("--cmd", nargs="+")
    # A JSON list, for arguments that start with a dash or are empty (redis' --save "").
    img.add_argument("--entrypoint-json")
    img.add_argument("--cmd-json")
    img.add_argument("--user")
    img.add_argument("--workdir")
    img.add_argument("--expose", action="append", help="e.g. 53/udp")
    img.add_argument("--label", action="append", help="KEY=VALUE")
    img.add_argument("--created-by", help="the history entry's created_by")
    args = parser.parse_args(argv)
    if args.command == "platform":
        parts = platform_of(args.goarch)
        print("/".join(p for p in (parts["os"], parts["architecture"], parts.get("variant")) if p))
        return 0
    if os.path.exists(args.out):
        raise SystemExit("%s exists" % args.out)
    build(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
