"""The app store's rules (plugins/plugin_utils/appstore/appstore.py) on the role's real catalogue
(roles/appstore/defaults/main.yml) and the paper's Table 2 (docs/paper-tables.yml)."""

import copy
import os
import re

import pytest
import yaml

from tests import paths
from ansible_collections.xinchuang.cloud.plugins.module_utils.images import app_images
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.appstore import appstore
from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch

ROOT = paths.ROOT
CATALOGUE = yaml.safe_load(open(os.path.join(ROOT, "roles", "appstore", "defaults", "main.yml")))["appstore_catalogue"]
TABLE2 = yaml.safe_load(open(os.path.join(ROOT, "docs", "paper-tables.yml")))["appstore"]
REGISTRY = "registry.local:5000"


def test_the_catalogue_is_table_2_in_its_order_with_its_families():
    assert list(CATALOGUE) == [row["name"] for row in TABLE2]
    for row in TABLE2:
        assert CATALOGUE[row["name"]]["families"] == [f for f in arch.families() if row[f]], row["name"]
        assert CATALOGUE[row["name"]]["kind"] == row["kind"]
    assert appstore.catalogue_problems(CATALOGUE) == []


def test_every_catalogue_entry_names_a_chart_of_the_collection_of_its_version():
    charts = os.path.join(ROOT, "charts")
    for name, entry in CATALOGUE.items():
        chart = yaml.safe_load(open(os.path.join(charts, entry["chart"], "Chart.yaml")))
        assert chart["name"] == entry["chart"] and chart["version"] == entry["chart_version"], name
        assert chart["appVersion"] == entry["image"]["tag"], name
        assert chart["annotations"]["xinchuang.cloud/debian-package"] == entry["debian_package"], name


def test_the_images_buildable_here_are_the_ones_a_recipe_builds_except_on_sw64():
    # The recipes (hack/images.sh apps) of the app store's images, each pushed to appstore/<name>;
    # fio (xinchuang/fio) is the storage benchmark's, no application.
    recipes = sorted(n for n, spec in app_images.APPS.items() if spec["repository"] == "appstore/" + n)
    assert recipes and "fio" not in recipes
    buildable = [row["name"] for row in appstore.matrix(CATALOGUE) if row["buildable"]]
    assert sorted(buildable) == recipes
    # debian_package names the recipe's package, and only there.
    for name, entry in CATALOGUE.items():
        recipe = app_images.recipe_of(entry["image"]["repository"])
        assert appstore.recipe_of(entry) == recipe, name
        assert entry["debian_package"] == (app_images.main_package(recipe) if recipe else ""), name
    nginx, kafka = CATALOGUE["nginx"], CATALOGUE["kafka"]
    assert [appstore.image_source(nginx, f) for f in arch.families()] == ["recipe"] * 3 + ["site", "recipe"]
    assert {appstore.image_source(kafka, f) for f in arch.families()} == {"site"}
    assert appstore.image_source(CATALOGUE["yapi"], "mips") is None
    # PostgreSQL too: sid's loong64 child is another major (18), under a tag of its own.
    assert [appstore.image_source(CATALOGUE["postgresql"], f) for f in arch.families()] == [
        "recipe", "recipe", "recipe", "site", "recipe"]


def chart_commands(chart):
    """The first word of every container command of a chart's templates."""
    out = []
    for name in sorted(os.listdir(os.path.join(ROOT, "charts", chart, "templates"))):
        with open(os.path.join(ROOT, "charts", chart, "templates", name)) as fh:
            out += re.findall(r'^\s*command: \["([^"]+)"', fh.read(), flags=re.M)
    return out


def test_a_chart_whose_image_a_recipe_builds_runs_it_as_its_user_and_starts_what_it_has():
    """The chart of every application a recipe builds runs as the image's user (not a 999 the
    image of Debian's packages does not have) and starts a program the image carries."""
    built = 0
    for name, entry in CATALOGUE.items():
        recipe = appstore.recipe_of(entry)
        if not recipe:
            continue
        built += 1
        context = yaml.safe_load(open(os.path.join(ROOT, "charts", entry["chart"], "values.yaml")))["securityContext"]
        user = "%s:%s" % (context["runAsUser"], context["runAsGroup"])
        assert user == app_images.NONROOT, (name, user)
        for program in chart_commands(entry["chart"]):
            assert app_images.provides(recipe, program), (name, program)
    assert built == 8
    assert chart_commands("postgresql") == ["/bin/sh"] and chart_commands("etcd") == ["/usr/bin/etcd"]


def test_a_debian_package_without_a_recipe_is_refused_naming_the_fix():
    """A Debian package for jenkins, whose image no recipe builds."""
    catalogue = copy.deepcopy(CATALOGUE)
    catalogue["jenkins"]["debian_package"] = "jenkins"
    assert appstore.catalogue_problems(catalogue) == [
        "appstore_catalogue.jenkins sets debian_package 'jenkins', but no recipe builds its image "
        "appstore/jenkins (the recipes build %s): set debian_package to \"\" (the site's registry provides the "
        "image) or add a recipe in plugins/module_utils/images/app_images.py" % ", ".join(app_images.built_repositories())]
    with pytest.raises(appstore.AppstoreError, match="appstore_catalogue.jenkins sets debian_package"):
        appstore.install_plan([{"name": "redis", "families": ["c86"]}], catalogue, REGISTRY)
    with pytest.raises(appstore.AppstoreError, match="appstore_catalogue.jenkins sets debian_package"):
        appstore.matrix(catalogue)
    # A site's own application with a package but no recipe, and one with the wrong package.
    catalogue = copy.deepcopy(CATALOGUE)
    catalogue["minio"] = {"chart": "nginx", "chart_version": "0.1.0", "families": ["c86"],
                          "image": {"repository": "site/minio", "tag": "1"}, "debian_package": "minio"}
    catalogue["redis"]["debian_package"] = "redis"
    problems = appstore.catalogue_problems(catalogue)
    assert len(problems) == 2
    assert problems[0].startswith("appstore_catalogue.minio sets debian_package 'minio', but no recipe builds its "
                                  "image site/minio")
    assert problems[1] == ("appstore_catalogue.redis sets debian_package 'redis', but recipe redis builds its image "
                           "appstore/redis from redis-server: set debian_package to 'redis-server' (or \"\")")


def test_a_family_override_takes_the_image_from_the_site():
    entry = dict(CATALOGUE["redis"], images={"arm": {"repository": "vendor/redis", "tag": "7.0.15-kunpeng"}})
    assert appstore.image_source(entry, "arm") == "site"
    assert appstore.image_source(entry, "c86") == "recipe"
    row = appstore.matrix({"redis": entry})[0]
    assert row["recipe"] == "redis" and row["buildable"] == ["c86", "loongarch", "mips"]
    assert appstore.matrix_table([row])[2].startswith("| redis | recipe redis: C86, LoongArch, MIPS | adapted |")
    assert appstore.image_of(entry, "arm", REGISTRY) == "registry.local:5000/vendor/redis:7.0.15-kunpeng"
    assert appstore.image_of(entry, "c86", REGISTRY) == "registry.local:5000/appstore/redis:7.0.15"


def test_sonarqube_on_mips_is_refused_naming_the_families_that_have_it():
    problems = appstore.apps_problems([{"name": "sonarqube", "families": ["c86", "mips"]}], CATALOGUE)
    assert problems == ["application sonarqube is not adapted to family mips; families that have it: "
                        "c86, arm, loongarch, sw64"]
    with pytest.raises(appstore.AppstoreError, match="not adapted to family mips.*nothing was changed"):
        appstore.install_plan([{"name": "sonarqube", "families": ["mips64el"]}], CATALOGUE, REGISTRY)


@pytest.mark.parametrize("apps,words", [
    ([{"name": "mysql", "families": ["c86"]}], ["'mysql'", "nginx", "add an entry"]),
    ([{"name": "redis", "families": ["x86"]}], ["unknown family 'x86'", "c86, arm, loongarch, sw64, mips"]),
    ([{"name": "redis", "families": []}], ["needs families"]),
    ([{"name": "redis", "families": ["c86"], "replicas": 2}], ["unknown key 'replicas'"]),
    ([{"name": "redis", "families": ["c86"], "values": "a=b"}], ["values must be a mapping"]),
    ([{"name": "redis", "families": ["c86"], "namespace": "Apps"}], ["namespace 'Apps'"]),
    ([{"name": "redis", "families": ["c86"]}, {"name": "redis", "families": ["arm"]}],
     ["appstore_apps[1] (redis) installs release redis into namespace appstore-redis like appstore_apps[0]"]),
    ({"name": "redis"}, ["must be a list"]),
])
def test_bad_apps_are_named_with_the_fix(apps, words):
    text = "; ".join(appstore.apps_problems(apps, CATALOGUE))
    for word in words:
        assert word in text


@pytest.mark.parametrize("change,words", [
    (lambda c: c["nginx"].pop("chart"), ["appstore_catalogue.nginx has no chart"]),
    (lambda c: c["nginx"].update(families=["c86", "risc"]), ["names 'risc'"]),
    (lambda c: c["nginx"].update(image={"repository": "Appstore/Nginx", "tag": "1"}), ["repository 'Appstore/Nginx'"]),
    (lambda c: c["nginx"].update(image={"repository": "appstore/nginx", "tag": 1.22}), ["tag 1.22", "quote it"]),
    (lambda c: c["nginx"].update(chart_version="1.0"), ["chart_version '1.0'"]),
    (lambda c: c["yapi"].update(images={"mips": {"repository": "a/b", "tag": "1"}}), ["family 'mips', which is not in"]),
    (lambda c: c.update(My_App={}), ["'My_App' is not a DNS label"]),
    (lambda c: c["nginx"].update(helm_repo="x"), ["unknown key 'helm_repo'"]),
])
def test_bad_catalogues_are_named(change, words):
    catalogue = copy.deepcopy(CATALOGUE)
    change(catalogue)
    text = "; ".join(appstore.catalogue_problems(catalogue))
    for word in words:
        assert word in text
    with pytest.raises(appstore.AppstoreError):
        appstore.install_plan([{"name": "redis", "families": ["c86"]}], catalogue, REGISTRY)


def test_the_plan_pins_an_app_to_its_families_and_keeps_the_inventorys_values():
    catalogue = copy.deepcopy(CATALOGUE)
    catalogue["redis"]["values"] = {"resources": {"limits": {"memory": "256Mi"}}, "replicaCount": 1}
    plan = appstore.install_plan([{"name": "redis", "families": ["c86", "kunpeng", "arm"],
                                   "values": {"resources": {"limits": {"cpu": "1"}}, "image": {"tag": "evil"}}}],
                                 catalogue, REGISTRY + "/")
    item = plan[0]
    assert item["namespace"] == "appstore-redis" and item["release"] == "redis"
    assert item["families"] == ["c86", "arm"] and item["arches"] == ["amd64", "arm64"]
    assert item["chart_ref"] == "oci://registry.local:5000/charts/redis" and item["chart_version"] == "0.1.0"
    assert item["platforms"] == ["linux/amd64", "linux/arm64/v8"]
    values = item["values"]
    assert values["resources"] == {"limits": {"memory": "256Mi", "cpu": "1"}} and values["replicaCount"] == 1
    assert values["image"] == {"repository": "registry.local:5000/appstore/redis", "tag": "7.0.15"}  # the role's
    term = values["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]
    assert term["matchExpressions"] == [{"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64", "arm64"]}]
    # Two families: the release's Pods are spread across them (soft: a family with no room still runs).
    assert values["affinity"]["podAntiAffinity"] == {"preferredDuringSchedulingIgnoredDuringExecution": [{
        "weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app.kubernetes.io/instance": "redis"}},
                                           "topologyKey": "kubernetes.io/arch"}}]}
    single = appstore.install_plan([{"name": "redis", "families": ["mips"], "namespace": "cache"}], CATALOGUE, REGISTRY)
    assert single[0]["namespace"] == "cache"
    assert "podAntiAffinity" not in single[0]["values"]["affinity"]


def test_one_release_cannot_run_two_image_references():
    catalogue = copy.deepcopy(CATALOGUE)
    catalogue["redis"]["images"] = {"sw64": {"repository": "vendor/redis", "tag": "7"}}
    with pytest.raises(appstore.AppstoreError, match="different images on families c86, sw64"):
        appstore.install_plan([{"name": "redis", "families": ["c86", "sw64"]}], catalogue, REGISTRY)
    assert appstore.install_plan([{"name": "redis", "families": ["sw64"]}], catalogue, REGISTRY)[0]["image"] == \
        "registry.local:5000/vendor/redis:7"


@pytest.mark.parametrize("registry", ["", "https://registry.local"])
def test_a_registry_with_a_scheme_or_none_is_refused(registry):
    with pytest.raises(appstore.AppstoreError, match="appstore_registry .*host\\[:port\\]"):
        appstore.install_plan([{"name": "redis", "families": ["c86"]}], CATALOGUE, registry)
    with pytest.raises(appstore.AppstoreError, match="appstore_registry_endpoint 'https://r.local' .*host\\[:port\\]"):
        appstore.install_plan([{"name": "redis", "families": ["c86"]}], CATALOGUE, REGISTRY, endpoint="https://r.local")


def test_a_controller_that_reaches_the_registry_at_another_address_uses_it_for_charts_and_checks_only():
    """appstore_registry_endpoint: the nodes pull by the registry's name, the controller (here
    outside the nodes' DNS) pushes and installs charts and reads images at another address."""
    plan = appstore.install_plan([{"name": "redis", "families": ["c86", "arm"]}], CATALOGUE, REGISTRY,
                                 endpoint="172.29.0.5:5000")
    item = plan[0]
    assert item["chart_ref"] == "oci://172.29.0.5:5000/charts/redis"
    assert item["chart_repository_ref"] == "oci://172.29.0.5:5000/charts"
    assert item["image"] == "registry.local:5000/appstore/redis:7.0.15"
    assert item["values"]["image"] == {"repository": "registry.local:5000/appstore/redis", "tag": "7.0.15"}
    assert item["image_path"] == "appstore/redis:7.0.15"
    same = appstore.install_plan([{"name": "redis", "families": ["c86"]}], CATALOGUE, REGISTRY, endpoint="")[0]
    assert same["chart_ref"] == "oci://registry.local:5000/charts/redis"
    assert same["chart_repository_ref"] == "oci://registry.local:5000/charts"


@pytest.mark.parametrize("registry, endpoint, expected", [
    ("registry.local:5000", "", "registry.local:5000"),
    ("registry.local:5000", "172.29.0.5:5000/", "172.29.0.5:5000"),
    ("registry.local:5000/", None, "registry.local:5000"),
])
def test_the_registry_endpoint_is_the_endpoint_when_given_else_the_registry(registry, endpoint, expected):
    assert appstore.registry_endpoint(registry, endpoint) == expected


def test_the_registry_endpoint_names_a_value_with_a_scheme():
    with pytest.raises(appstore.AppstoreError, match="appstore_registry_endpoint 'https://r.local'"):
        appstore.registry_endpoint(REGISTRY, "https://r.local")
    with pytest.raises(appstore.AppstoreError, match="appstore_registry 'https://registry.local'"):
        appstore.registry_endpoint("https://registry.local", "")


def test_an_image_without_a_target_familys_platform_is_named():
    plan = appstore.install_plan([{"name": "redis", "families": ["c86", "arm"]},
                                  {"name": "nginx", "families": ["c86"]}], CATALOGUE, REGISTRY)
    # image_manifest_info names a reference without its registry, as the registry knows it.
    images = [{"ref": "appstore/redis:7.0.15", "exists": True, "platforms": ["linux/amd64"]},
              {"ref": "registry.local:5000/appstore/nginx:1.22.1", "exists": False, "platforms": []}]
    problems = appstore.plan_image_problems(plan, images)
    assert len(problems) == 2
    assert problems[0].startswith("application redis has no image for family arm (linux/arm64/v8)")
    assert "serves only linux/amd64" in problems[0]
    assert "application nginx has no image for family c86" in problems[1] and "is absent" in problems[1]
    images[0]["platforms"].append("linux/arm64")  # no variant: the family's default, as containerd
    images[1].update(exists=True, platforms=["linux/amd64", "linux/s390x"])
    assert appstore.plan_image_problems(plan, images) == []


def test_the_matrix_is_15_by_5_with_presence_and_installations():
    images = [{"ref": "appstore/nginx:1.22.1", "exists": True, "platforms": ["linux/amd64", "linux/arm64/v8"]},
              {"ref": "appstore/kafka:3.9.1", "exists": True, "platforms": ["linux/amd64", "linux/sw64"]}]
    rows = appstore.matrix(CATALOGUE, "r:5000", images, {"nginx": ["c86"]})
    assert len(rows) == 15 and all(len(r["cells"]) == 5 for r in rows)
    assert rows[0]["recipe"] == "nginx" and rows[0]["buildable"] == ["c86", "arm", "loongarch", "mips"]
    assert rows[4]["name"] == "kafka" and rows[4]["recipe"] is None and rows[4]["buildable"] == []
    nginx = rows[0]["cells"]
    assert nginx["c86"] == {"adapted": True, "source": "recipe", "image": "r:5000/appstore/nginx:1.22.1",
                            "image_path": "appstore/nginx:1.22.1", "present": True, "installed": True}
    assert nginx["arm"]["present"] is True and nginx["arm"]["installed"] is False
    assert nginx["mips"]["present"] is False
    assert nginx["sw64"]["source"] == "site"
    table = appstore.matrix_table(rows)
    assert table[0] == "| application | buildable here | C86 | ARM | LoongArch | SW64 | MIPS |" and len(table) == 17
    assert table[1] == "|---|---|---|---|---|---|---|"
    assert table[2] == ("| nginx | recipe nginx: C86, ARM, LoongArch, MIPS | adapted, present, installed "
                        "| adapted, present | adapted, MISSING | adapted, MISSING | adapted, MISSING |")
    # What the registry holds decides a cell, not where the image came from.
    assert table[6] == ("| kafka | no: site registry | adapted, present | adapted, MISSING | adapted, MISSING "
                        "| adapted, present | adapted, MISSING |")
    assert table[-1] == ("| sonarqube | no: site registry | adapted, MISSING | adapted, MISSING | adapted, MISSING "
                         "| adapted, MISSING | not adapted |")
    assert not any("built here" in line for line in table[1:])
    assert appstore.matrix_table(rows) == table  # deterministic
    plain = appstore.matrix_table(appstore.matrix(CATALOGUE), markdown=False)
    assert plain[0].split() == ["application", "buildable", "here", "C86", "ARM", "LoongArch", "SW64", "MIPS"]
    assert plain[1].split() == ["nginx", "recipe", "nginx:", "C86,", "ARM,", "LoongArch,", "MIPS"] + ["adapted"] * 5
    assert plain[-1].split() == ["sonarqube", "no:", "site", "registry"] + ["adapted"] * 4 + ["not", "adapted"]


def test_the_docs_show_the_matrix_the_code_makes():
    """docs/roles/appstore.md's example is matrix_table's output for the role's catalogue."""
    doc = open(os.path.join(ROOT, "docs", "roles", "appstore.md")).read()
    assert "\n".join(appstore.matrix_table(appstore.matrix(CATALOGUE))) + "\n" in doc


def test_installed_families_are_read_back_from_the_affinity_the_plan_wrote():
    plan = appstore.install_plan([{"name": "tomcat", "families": ["loongarch", "c86"]}], CATALOGUE, REGISTRY)
    releases = [{"name": "tomcat", "values": plan[0]["values"]}, {"name": "other", "values": {}}]
    assert appstore.installed_families(releases) == {"tomcat": ["loongarch", "c86"], "other": []}


def test_a_family_without_nodes_is_named_with_the_nodes_architectures():
    plan = appstore.install_plan([{"name": "nginx", "families": ["c86", "loongarch"]}], CATALOGUE, REGISTRY)
    nodes = [{"metadata": {"labels": {"kubernetes.io/arch": "amd64"}}}, {"metadata": {"name": "unlabelled"}}]
    assert appstore.plan_node_problems(plan, nodes) == [
        "application nginx asks for family loongarch, but no node has kubernetes.io/arch=loong64 (the nodes have "
        "amd64): join such a node or leave loongarch out of its families"]
    nodes.append({"metadata": {"labels": {"kubernetes.io/arch": "loong64"}}})
    assert appstore.plan_node_problems(plan, nodes) == []


def test_the_plans_charts_are_each_once_and_hold_no_values():
    plan = appstore.install_plan([
        {"name": "redis", "families": ["c86"], "values": {"password": "s3cret-value"}},
        {"name": "redis", "families": ["arm"], "namespace": "redis-arm"},
        {"name": "nginx", "families": ["c86"]}], CATALOGUE, REGISTRY)
    charts = appstore.plan_charts(plan)
    assert [c["chart"] for c in charts] == ["redis", "nginx"]
    assert all(sorted(c) == sorted(appstore.CHART_KEYS) for c in charts), charts
    assert "s3cret-value" not in repr(charts)
    assert charts[0]["chart_ref"] == plan[0]["chart_ref"] and charts[0]["chart_version"] == plan[0]["chart_version"]


def test_the_helm_outcome_names_the_releases_changed_and_each_failure_with_helms_message():
    results = [
        {"ansible_loop_var": "__appstore_item", "__appstore_item": {"release": "nginx", "values": {}}, "changed": True},
        {"ansible_loop_var": "__appstore_item", "__appstore_item": {"release": "redis"}, "changed": False},
        {"ansible_loop_var": "__appstore_item", "__appstore_item": {"release": "tomcat"}, "changed": False,
         "failed": True, "msg": "Failure when executing Helm command. Exited 1."},
        {"item": "postgresql", "failed": True},
        {"item": "etcd", "skipped": True, "changed": False}]
    assert appstore.helm_outcome(results) == {
        "changed": ["nginx"],
        "failed": ["tomcat: Failure when executing Helm command. Exited 1.",
                   "postgresql: Helm failed without a message"]}
    assert appstore.helm_outcome(None) == {"changed": [], "failed": []}
