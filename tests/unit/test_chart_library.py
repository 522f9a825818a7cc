"""The app store's charts share one set of helpers, the library chart charts/common: every
application chart under charts/ depends on it, carries it in its own charts/ as links to the
library's files (so ``helm template``, ``package`` and ``install`` read it from the collection,
with no ``helm dependency build`` and no registry), and defines none of its helpers again.

Pure: reads the files only. tests/integration/appstore/test_charts.py lints and renders the
charts with the real helm.
"""

import json
import os
import re

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHARTS_DIR = os.path.join(ROOT, "charts")
LIBRARY_DIR = os.path.join(CHARTS_DIR, "common")
APPLICATIONS = sorted(d for d in os.listdir(CHARTS_DIR)
                      if d != "common" and os.path.isfile(os.path.join(CHARTS_DIR, d, "Chart.yaml")))
DEFINE = re.compile(r'{{-?\s*define\s+"([^"]+)"')
# include and template are the two template actions that call a named template.
CALL = re.compile(r'\b(?:include|template)\s+"([^"]+)"')
ROOT_FILESYSTEM_ANNOTATION = "xinchuang.cloud/root-filesystem"


def chart_yaml(folder):
    with open(os.path.join(folder, "Chart.yaml")) as fh:
        return yaml.safe_load(fh)


def files_under(folder):
    """Relative paths of the files under folder; links are not followed (os.walk's default)."""
    found = set()
    for current, _dirs, files in os.walk(folder):
        found.update(os.path.relpath(os.path.join(current, name), folder) for name in files)
    return found


def template_texts(chart_dir):
    templates = os.path.join(chart_dir, "templates")
    for name in sorted(os.listdir(templates)):
        with open(os.path.join(templates, name)) as fh:
            yield name, fh.read()


def defined_in(chart_dir):
    return {name for _file, text in template_texts(chart_dir) for name in DEFINE.findall(text)}


LIBRARY_HELPERS = defined_in(LIBRARY_DIR)


def test_the_library_is_a_library_chart_holding_the_helpers():
    chart = chart_yaml(LIBRARY_DIR)
    assert chart["name"] == "common" and chart["type"] == "library"
    assert {"common.name", "common.fullname", "common.selectorLabels", "common.labels", "common.image",
            "common.podCommon", "common.containerSecurity"} <= LIBRARY_HELPERS
    # One name space: a library helper never shadows a chart's own template.
    assert all(name.startswith("common.") for name in LIBRARY_HELPERS), LIBRARY_HELPERS
    # A library chart renders no manifest: every template of it is a partial (_*.tpl).
    assert all(name.startswith("_") and name.endswith(".tpl") for name, _text in template_texts(LIBRARY_DIR))


def test_there_are_the_fifteen_application_charts():
    assert len(APPLICATIONS) == 15 and {"nginx", "redis", "postgresql", "tomcat"} <= set(APPLICATIONS)


@pytest.mark.parametrize("chart", APPLICATIONS)
def test_the_chart_depends_on_the_library_by_its_path_in_the_collection(chart):
    # file://: each site's registry URL differs, so no chart names an oci:// repository.
    assert chart_yaml(os.path.join(CHARTS_DIR, chart)).get("dependencies") == [
        {"name": "common", "version": chart_yaml(LIBRARY_DIR)["version"], "repository": "file://../common"}]


@pytest.mark.parametrize("chart", APPLICATIONS)
def test_the_chart_carries_the_library_as_links_to_its_files(chart):
    charts = os.path.join(CHARTS_DIR, chart, "charts")
    assert sorted(os.listdir(charts)) == ["common"], "charts/%s/charts holds only the library" % chart
    carried = os.path.join(charts, "common")
    # Links to files, in real directories: ansible-test's symlinks sanity test refuses a link to a
    # directory, and helm package writes each linked file's content into the chart's .tgz.
    for folder, _dirs, _files in os.walk(carried):
        assert not os.path.islink(folder), "%s is a link to a directory" % os.path.relpath(folder, ROOT)
    assert files_under(carried) == files_under(LIBRARY_DIR), (
        "charts/%s/charts/common must hold a link to each file of charts/common, and nothing else" % chart)
    for relative in sorted(files_under(LIBRARY_DIR)):
        link = os.path.join(carried, relative)
        target = os.path.relpath(os.path.join(LIBRARY_DIR, relative), os.path.dirname(link))
        fix = "fix: ln -sfn %s %s" % (target, os.path.relpath(link, ROOT))
        assert os.path.islink(link), "%s is a copy, not a link (%s)" % (os.path.relpath(link, ROOT), fix)
        # Relative, so the link holds in the built collection and wherever it is installed.
        assert os.readlink(link) == target, fix


@pytest.mark.parametrize("chart", APPLICATIONS)
def test_the_chart_defines_no_helper_of_the_library_again(chart):
    suffixes = {name.split(".", 1)[1] for name in LIBRARY_HELPERS}
    again = sorted(name for name in defined_in(os.path.join(CHARTS_DIR, chart))
                   if name in LIBRARY_HELPERS or name.split(".", 1)[-1] in suffixes)
    assert not again, "charts/%s defines %s: include the library's common.* helper instead" % (chart, again)


@pytest.mark.parametrize("chart", APPLICATIONS)
def test_every_template_the_chart_calls_is_defined(chart):
    chart_dir = os.path.join(CHARTS_DIR, chart)
    known = LIBRARY_HELPERS | defined_in(chart_dir)
    for name, text in template_texts(chart_dir):
        unknown = set(CALL.findall(text)) - known
        assert not unknown, "charts/%s/templates/%s calls %s, defined nowhere" % (chart, name, sorted(unknown))


@pytest.mark.parametrize("chart", APPLICATIONS)
def test_the_closed_schema_admits_the_values_helm_gives_the_library(chart):
    # Helm puts every dependency's values under its name (here `common`, with `global`) into the
    # chart's values before it checks them against the chart's schema.
    with open(os.path.join(CHARTS_DIR, chart, "values.schema.json")) as fh:
        schema = json.load(fh)
    assert schema["additionalProperties"] is False
    assert schema["properties"]["common"]["type"] == "object"


@pytest.mark.parametrize("chart", APPLICATIONS)
def test_the_root_filesystem_annotation_is_one_the_library_knows(chart):
    annotations = chart_yaml(os.path.join(CHARTS_DIR, chart)).get("annotations") or {}
    assert annotations.get(ROOT_FILESYSTEM_ANNOTATION, "read-only") in ("read-only", "writable")
