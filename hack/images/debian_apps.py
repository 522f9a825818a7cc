"""Application images made of Debian's packages (hack/images.sh apps): what each image takes of
which package, the files the project adds, and its configuration. The data lives here; the
files of the packages and the libraries they link are gathered by debian_tree.py
(plugins/module_utils/debian_closure.py), and the layout is written by oci.py.

    python3 hack/images/debian_apps.py list                  NAME REPOSITORY VERSION-PACKAGE
    python3 hack/images/debian_apps.py takes NAME            debian_tree.py's arguments
    python3 hack/images/debian_apps.py oci-args NAME DIR     oci.py's arguments of the config and
                                                             the added files (written under DIR)
    python3 hack/images/debian_apps.py recipe NAME           what makes the image, for its cache key

Every image runs as a user other than root (uid 65532, no login), so it passes Pod Security
`restricted` with `runAsNonRoot`; ports are above 1024 where the program lets us choose.
The tag of an image is the upstream version of its main package in the suite of amd64
(bookworm); loong64's child comes from sid and says its own version in a label.
"""

import json
import os
import sys

NONROOT = "65532:65532"

# A non-root nginx: no privileged port, pid and temporary files under /tmp, logs to the
# container's output, in the foreground (the layout of upstream's nginx-unprivileged image).
NGINX_CONF = """worker_processes auto;
pid /tmp/nginx.pid;
error_log /dev/stderr warn;
daemon off;
events { worker_connections 1024; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log /dev/stdout;
    sendfile on;
    client_body_temp_path /tmp/client_body;
    proxy_temp_path /tmp/proxy;
    fastcgi_temp_path /tmp/fastcgi;
    uwsgi_temp_path /tmp/uwsgi;
    scgi_temp_path /tmp/scgi;
    include /etc/nginx/conf.d/*.conf;
}
"""

NGINX_DEFAULT_SITE = """server {
    listen 8080 default_server;
    listen [::]:8080 default_server;
    root /usr/share/nginx/html;
    index index.html;
    location / { try_files $uri $uri/ =404; }
    location = /healthz { access_log off; return 200 "ok\\n"; }
}
"""

# Every library a program links is followed (prefix "lib"): Debian names them so.
APPS = {
    "nginx": {
        "repository": "appstore/nginx",
        "version_of": "nginx",
        "takes": ["nginx:usr/sbin/nginx:lib,zlib1g",
                  "nginx-common:etc/nginx/mime.types,usr/share/nginx/html/"],
        "files": {"etc/nginx/nginx.conf": NGINX_CONF, "etc/nginx/conf.d/default.conf": NGINX_DEFAULT_SITE},
        "dirs": ["tmp:1777"],
        "entrypoint": ["/usr/sbin/nginx"],
        "expose": ["8080/tcp"],
        "version_args": ["-v"],
    },
    "redis": {
        "repository": "appstore/redis",
        "version_of": "redis-server",
        # redis-server is a link to redis-check-rdb, the one program of redis-tools.
        "takes": ["redis-server:usr/bin/redis-server", "redis-tools:usr/bin/redis-check-rdb,usr/bin/redis-cli:lib"],
        "dirs": ["data:1777", "tmp:1777"],
        "workdir": "/data",
        "entrypoint": ["/usr/bin/redis-server"],
        # No protected mode (the Pod network and NetworkPolicy guard it), no snapshot unless
        # the chart asks for one.
        "cmd": ["--port", "6379", "--protected-mode", "no", "--save", "", "--dir", "/data"],
        "expose": ["6379/tcp"],
        "version_args": ["--version"],
    },
    "memcached": {
        "repository": "appstore/memcached",
        "version_of": "memcached",
        "takes": ["memcached:usr/bin/memcached:lib"],
        "dirs": ["tmp:1777"],
        "entrypoint": ["/usr/bin/memcached"],
        "cmd": ["-p", "11211", "-U", "0"],
        "expose": ["11211/tcp"],
        "version_args": ["-V"],
    },
    # The storage benchmark's tool (bench/storage.py): fio with every engine Debian links.
    "fio": {
        "repository": "xinchuang/fio",
        "version_of": "fio",
        "takes": ["fio:usr/bin/fio:lib"],
        "dirs": ["tmp:1777"],
        "entrypoint": ["/usr/bin/fio"],
        "version_args": ["--version"],
    },
}


def app(name):
    if name not in APPS:
        raise SystemExit("unknown application image %r; known: %s" % (name, ", ".join(sorted(APPS))))
    return APPS[name]


def oci_args(name, out_dir):
    """oci.py's arguments for the configuration and the project's own files (written under
    ``out_dir``), one per line."""
    spec, args = app(name), []
    for dest, text in sorted(spec.get("files", {}).items()):
        path = os.path.join(out_dir, dest.replace("/", "_"))
        with open(path, "w") as fh:
            fh.write(text)
        args += ["--file", "%s=%s:0644" % (dest, path)]
    for d in spec.get("dirs", []):
        args += ["--dir", d]
    args += ["--user", NONROOT, "--workdir", spec.get("workdir", "/")]
    # As JSON: the arguments may start with a dash or be empty.
    for key in ("entrypoint", "cmd"):
        if spec.get(key):
            args += ["--%s-json" % key, json.dumps(spec[key])]
    for port in spec.get("expose", []):
        args += ["--expose", port]
    return args


def recipe(name):
    """What makes the image besides the packages and the tools (a cache key)."""
    return json.dumps({"app": name, "spec": app(name), "user": NONROOT}, sort_keys=True)


def main(argv):
    if not argv:
        raise SystemExit(__doc__)
    cmd, rest = argv[0], argv[1:]
    if cmd == "list":
        for name in sorted(APPS):
            print("%s\t%s\t%s" % (name, APPS[name]["repository"], APPS[name]["version_of"]))
    elif cmd == "takes" and len(rest) == 1:
        print("\n".join(app(rest[0])["takes"]))
    elif cmd == "oci-args" and len(rest) == 2:
        print("\n".join(oci_args(rest[0], rest[1])))
    elif cmd == "recipe" and len(rest) == 1:
        print(recipe(rest[0]))
    elif cmd == "version-args" and len(rest) == 1:
        print("\n".join(app(rest[0])["version_args"]))
    else:
        raise SystemExit(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
