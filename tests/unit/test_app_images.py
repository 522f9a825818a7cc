"""The recipes of the application images (plugins/module_utils/app_images.py), read by the image
build (hack/images/debian_apps.py, hack/images.sh) and by the app store (appstore.py)."""

import contextlib
import importlib.util
import io
import json
import os

import pytest

from ansible_collections.xinchuang.cloud.plugins.module_utils import app_images
from ansible_collections.xinchuang.cloud.plugins.module_utils import arch

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def debian_apps():
    spec = importlib.util.spec_from_file_location("debian_apps", os.path.join(ROOT, "hack", "images", "debian_apps.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(module, *argv):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert module.main(list(argv)) == 0
    return out.getvalue()


def test_each_repository_has_one_recipe_and_each_recipe_takes_its_main_package():
    repositories = [spec["repository"] for spec in app_images.APPS.values()]
    assert len(set(repositories)) == len(repositories)
    assert app_images.built_repositories() == sorted(repositories)
    for name, spec in app_images.APPS.items():
        assert app_images.recipe_of(spec["repository"]) == name
        assert any(take.split(":", maxsplit=1)[0] == app_images.main_package(name) for take in spec["takes"]), name
    assert app_images.recipe_of("appstore/nope") is None
    assert set(app_images.FAMILIES) < set(arch.families()) and "sw64" not in app_images.FAMILIES


def test_the_image_build_reads_the_recipes_from_here():
    module = debian_apps()
    assert module.APPS is app_images.APPS and module.NONROOT == app_images.NONROOT
    assert run(module, "list").splitlines() == [
        "%s\t%s\t%s" % (n, app_images.APPS[n]["repository"], app_images.main_package(n))
        for n in sorted(app_images.APPS)]
    recipe = json.loads(run(module, "recipe", "nginx"))
    assert recipe == {"app": "nginx", "spec": app_images.APPS["nginx"], "user": app_images.NONROOT}


@pytest.mark.parametrize("debian, tag", [
    ("1.22.1-9+deb12u2", "1.22.1"), ("1.30.6-1", "1.30.6"), ("5:7.0.15-1~deb12u5", "7.0.15"),
    ("1.6.18-1", "1.6.18"), ("3.33-3+b1", "3.33"), ("2.4.0+dfsg-1", "2.4.0"),
    ("8.0.0~rc1-2", "8.0.0-rc1"), ("1:1.37.0-6", "1.37.0"), ("0.9-1-2", "0.9-1")])
def test_the_tag_of_a_debian_version_is_its_upstream_part(debian, tag):
    assert app_images.upstream_version(debian) == tag


@pytest.mark.parametrize("debian, upstream", [
    ("1:1.6.7~rc0-1+b13", "1.6.7~rc0"), ("1.22.1-9+deb12u2", "1.22.1"), ("2.4.0+dfsg-1", "2.4.0"),
    ("0.9-1-2", "0.9-1"), ("3.33", "3.33")])
def test_the_upstream_part_a_program_prints_keeps_the_tilde(debian, upstream):
    assert app_images.debian_upstream(debian) == upstream
    assert app_images.upstream_version(debian) == upstream.replace("~", "-")


def test_a_version_without_an_upstream_part_is_refused():
    with pytest.raises(ValueError, match="'1:-1'"):
        app_images.upstream_version("1:-1")


def test_a_recipe_builds_the_families_whose_suite_has_its_package():
    assert app_images.families_of("nginx") == list(app_images.FAMILIES)
    # Sid (loong64) has no PostgreSQL 15.
    assert app_images.families_of("postgresql") == ["c86", "arm", "mips"]
    for name, spec in app_images.APPS.items():
        assert set(spec.get("families", app_images.FAMILIES)) <= set(app_images.FAMILIES), name
    module = debian_apps()
    assert module.builds("postgresql", "arm64") and module.builds("postgresql", "mips64le")
    assert not module.builds("postgresql", "loong64")
    assert module.builds("nginx", "loong64")
    with pytest.raises(SystemExit, match="'nope'"):
        module.builds("nope", "amd64")


def test_what_an_image_provides_is_what_its_takes_links_and_files_give():
    assert app_images.provides("etcd", "/usr/bin/etcd")
    # The shell the postgresql chart starts: a link to dash; /bin is /usr/bin (merged /usr).
    assert app_images.provides("postgresql", "/bin/sh") and app_images.provides("postgresql", "/usr/bin/dash")
    assert app_images.provides("postgresql", "/usr/lib/postgresql/15/lib/plpgsql.so")
    assert app_images.provides("postgresql", "/etc/passwd")
    # The client the kingbase role's kubernetes form probes and talks through, not Debian's wrapper.
    assert app_images.provides("postgresql", "/usr/lib/postgresql/15/bin/psql")
    assert not app_images.provides("postgresql", "/usr/bin/psql")
    # Left out: the JIT, whose LLVM the image does not carry.
    assert not app_images.provides("postgresql", "/usr/lib/postgresql/15/lib/llvmjit.so")
    assert not app_images.provides("postgresql", "/usr/lib/postgresql/15/lib/bitcode/postgres.index.bc")
    assert not app_images.provides("nginx", "/bin/sh")


def test_the_image_build_adds_the_recipes_links_and_environment(tmp_path):
    args = debian_apps().oci_args("postgresql", str(tmp_path))
    assert args[args.index("--symlink") + 1] == "usr/bin/sh=dash"
    assert "PGDATA=/var/lib/postgresql/data/pgdata" in [args[i + 1] for i, a in enumerate(args) if a == "--env"]
    passwd = [a for a in args if a.startswith("etc/passwd=")][0].split("=", 1)[1].rsplit(":", 1)[0]
    assert "postgres:x:65532:65532:" in open(passwd).read()
