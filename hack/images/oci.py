"""Write a single-architecture OCI image (one layer) as an OCI image layout, no Docker needed:
the command line of plugins/module_utils/images/oci_layout.py, for tests and tools that make an
image of their own (the image builder itself calls the library).

    python3 hack/images/oci.py build --goarch arm64 --tag 3.10.2 --out DIR \
        --file pause=/path/to/pause:0755 --entrypoint /pause --user 65535:65535

Run with PYTHONPATH=$XC_ROOT/.collections. ``--cap DEST=net_bind_service`` gives a file that
capability (as ``setcap cap_net_bind_service=+ep``); ``--symlink DEST=TARGET`` adds a symbolic
link; ``--dir DEST:MODE`` an empty directory; ``--env KEY=VALUE`` an environment variable beside
PATH (``--env PATH=...`` replaces it). ``platform GOARCH`` prints the OCI platform of a GOARCH
(linux/arm64/v8).
"""

import argparse
import json
import os
import sys

from ansible_collections.xinchuang.cloud.plugins.module_utils.images import oci_layout


def parse_layer(args):
    files, caps, links, dirs = [], {}, [], []
    for spec in args.file or []:
        dest, rest = spec.split("=", 1)
        src, mode = rest, 0o644
        if ":" in rest:
            src, mode_text = rest.rsplit(":", 1)
            mode = int(mode_text, 8)
        if not os.path.isfile(src):
            raise SystemExit("--file %s: %s is not a file" % (spec, src))
        files.append(("/" + dest.strip("/"), src, mode))
    for spec in args.cap or []:
        dest, names = spec.split("=", 1)
        caps.setdefault("/" + dest.strip("/"), []).extend(names.split(","))
    for spec in args.symlink or []:
        dest, target = spec.split("=", 1)
        links.append(("/" + dest.strip("/"), target))
    for spec in args.dir or []:
        dest, _sep, mode = spec.partition(":")
        dirs.append(("/" + dest.strip("/"), int(mode or "755", 8)))
    return oci_layout.layer(files, links, dirs, caps)


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
        print(oci_layout.platform_text(args.goarch))
        return 0
    config = oci_layout.image_config(
        entrypoint=json.loads(args.entrypoint_json) if args.entrypoint_json else args.entrypoint,
        cmd=json.loads(args.cmd_json) if args.cmd_json else args.cmd,
        user=args.user, workdir=args.workdir, env=args.env or [], expose=args.expose or [],
        labels=args.label or [], created_by=args.created_by)
    try:
        summary = oci_layout.write_layout(args.out, args.goarch, args.tag, parse_layer(args), config)
    except oci_layout.OciLayoutError as exc:
        raise SystemExit(str(exc))
    sys.stdout.write(oci_layout.image_json_text(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
