"""Every playbook that runs on inventory groups stops, naming the pattern and the inventory,
when the inventory has no host for it (playbooks/plays/require_hosts.yml). Without that check
Ansible prints "skipping: no hosts matched" and exits 0 having done nothing (issue 34:
``playbooks/tpcc.yml`` on the lab). Each playbook runs with ansible-playbook, as users run it,
against an inventory of one unrelated host, and under a --limit that excludes the group too."""

import glob
import os

import pytest
import yaml

from tests.integration.ansible_run import ROOT, ansible_playbook

PLAYBOOKS = os.path.join(ROOT, "playbooks")
# Playbooks whose plays run on the controller by default, and remove_node, whose first play
# checks `-e node` against the group kube_node itself.
CONTROLLER = {"appstore.yml", "appstore_list.yml", "build_image.yml", "bundle.yml", "canary.yml", "deploy_app.yml", "images.yml",
              "sample_app.yml"}
OWN_CHECK = {"remove_node.yml"}


def playbooks():
    return sorted(os.path.basename(p) for p in glob.glob(os.path.join(PLAYBOOKS, "*.yml")))


def inventory_playbooks():
    return [p for p in playbooks() if p not in CONTROLLER | OWN_CHECK]


def test_the_lists_name_playbooks_that_exist_and_controller_ones_run_on_localhost():
    assert CONTROLLER | OWN_CHECK <= set(playbooks())
    for name in CONTROLLER:
        with open(os.path.join(PLAYBOOKS, name)) as fh:
            plays = yaml.safe_load(fh)
        assert all("localhost" in str(play.get("hosts")) for play in plays), name


@pytest.mark.parametrize("name", inventory_playbooks())
def test_a_playbook_without_its_hosts_stops_and_names_the_pattern_and_the_inventory(name, tmp_path):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {"unrelated": {"ansible_connection": "local"}}}}))
    for limit in ([], ["--limit", "unrelated"]):
        report, proc = ansible_playbook(["-i", str(inventory)] + limit + [os.path.join(PLAYBOOKS, name)],
                                        check=True)
        failed = [(host, task_result) for play in report["plays"] for task in play["tasks"]
                  for host, task_result in task["hosts"].items() if task_result.get("failed")]
        assert proc.returncode != 0, (name, limit, report["stats"])
        assert len(failed) == 1, (name, limit, failed)
        msg = failed[0][1]["msg"]
        assert "no host of the inventory %s matches '" % inventory in msg, msg
        assert "so this playbook would do nothing" in msg, msg
