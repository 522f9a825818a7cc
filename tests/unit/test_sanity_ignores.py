"""`ansible-test sanity`'s ignore file holds only what a tool cannot read, each for one reason.

yamllint cannot read a Helm template (Go template text around YAML); helm lint --strict checks
those in tests/integration/appstore. A Kubernetes manifest of the test bed holds several
documents, as kubectl apply expects. Nothing else may be ignored: a line for any other file, or
for another check, would hide a real finding, and a line for a file that is gone is stale.
"""

import glob
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IGNORES = glob.glob(os.path.join(ROOT, "tests", "sanity", "ignore-*.txt"))

HELM_TEMPLATE = ("yamllint!skip", "Helm template (Go template text, not YAML): helm lint --strict checks it "
                 "(tests/integration/appstore)")
MANIFEST = ("yamllint:multiple-yaml-documents", "Kubernetes manifests: one file, several objects, as kubectl apply expects")


def expected_lines():
    lines = set()
    for path in glob.glob(os.path.join(ROOT, "charts", "*", "templates", "*.yaml")):
        lines.add("%s %s # %s" % (os.path.relpath(path, ROOT), *HELM_TEMPLATE))
    for path in glob.glob(os.path.join(ROOT, "hack", "testbed", "manifests", "*.yaml")):
        with open(path) as fh:
            if sum(1 for line in fh if line.rstrip() == "---") > 1:
                lines.add("%s %s # %s" % (os.path.relpath(path, ROOT), *MANIFEST))
    return lines


def test_there_is_one_ignore_file_for_the_ansible_core_in_use():
    assert len(IGNORES) == 1, IGNORES


def test_the_ignore_file_holds_exactly_the_helm_templates_and_the_multi_document_manifests():
    with open(IGNORES[0]) as fh:
        lines = [line.rstrip("\n") for line in fh if line.strip()]
    assert len(lines) == len(set(lines)), "duplicate lines"
    expected = expected_lines()
    assert not set(lines) - expected, "ignored, but not a Helm template or a multi-document manifest: %s" % sorted(
        set(lines) - expected)
    assert not expected - set(lines), "missing (sanity would fail on them): %s" % sorted(expected - set(lines))
