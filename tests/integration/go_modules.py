"""An upstream Go module's source, fetched through the Go module proxy into the project's module
cache (``$XC_CACHE/go/mod``, as hack/crds.sh fetches it): for tests that read what upstream
publishes (a CRD, a configuration format) without any registry or download site."""

import json
import os
import subprocess

import pytest


def module_dir(module, version):
    """The unpacked directory of MODULE@VERSION; fails the test, naming the module, when the
    proxy does not serve it or no Go toolchain is installed."""
    env = dict(os.environ)
    env.setdefault("GOMODCACHE", os.path.join(os.environ.get("XC_CACHE", "/var/cache/xinchuang"), "go", "mod"))
    env.setdefault("GOFLAGS", "-modcacherw")
    try:
        # No go.mod is needed for MODULE@VERSION: run outside any module.
        proc = subprocess.run(["go", "mod", "download", "-json", "%s@%s" % (module, version)],
                              capture_output=True, text=True, env=env, cwd="/tmp", timeout=300, check=False)
    except OSError as exc:
        pytest.fail("no Go toolchain to fetch %s@%s (install Go: hack/setup.sh): %s" % (module, version, exc))
    if proc.returncode != 0:
        pytest.fail("cannot fetch %s@%s through the Go module proxy: %s" % (module, version, proc.stderr[-500:]))
    return json.loads(proc.stdout)["Dir"]
