"""The recipes of the application images (plugins/module_utils/app_images.py), read by the image
build (hack/images/debian_apps.py, hack/images.sh) and by the app store (appstore.py)."""

import contextlib
import importlib.util
import io
import json
import os

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
