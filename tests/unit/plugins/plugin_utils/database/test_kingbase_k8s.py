"""The kubernetes form of xinchuang.cloud.kingbase (plugins/plugin_utils/database/kingbase_k8s.py): the
objects, the configuration files and the restart-or-reload rule, the inputs and the cluster
refused before anything changes. The engines' values are the role's own vars files."""

import base64
import hashlib
import os
import shlex

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import paths
from ansible_collections.xinchuang.cloud.plugins.module_utils.images import app_images
from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from ansible_collections.xinchuang.cloud.plugins.module_utils.database import engine as db
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.database import kingbase_k8s as k8s

ROOT = paths.ROOT


def engine(name):
    with open(os.path.join(ROOT, "roles", "kingbase", "vars", "engine_%s.yml" % name)) as fh:
        return yaml.safe_load(fh)["_kingbase_engine"]


def spec(**over):
    out = {"name": "postgresql", "namespace": "xinchuang-db", "engine": engine("postgresql"),
           "families": ["c86", "arm"], "replicas": 1, "registry": "registry.local:5000",
           "image": "appstore/postgresql:15.14",
           "image_pull_secrets": [], "storage_class": "local-storage", "storage_size": "8Gi",
           "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
           "service_type": "ClusterIP", "service_port": 5432, "conf": {}, "hba": [], "max_memory_fraction": 0.75}
    out.update(over)
    return out


def by_kind(objects, kind):
    return [o for o in objects if o["kind"] == kind]


def node(name, family, **labels):
    merged = {"kubernetes.io/hostname": name, "kubernetes.io/arch": arch.lookup(family).oci_arch}
    merged.update(labels)
    return {"metadata": {"name": name, "labels": merged}}


def local_pv(name, node_name, size="10Gi", klass="local-storage", policy="Retain", phase="Available", claim=None):
    pv = {"metadata": {"name": name},
          "spec": {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"], "storageClassName": klass,
                   "persistentVolumeReclaimPolicy": policy, "local": {"path": "/srv/db"},
                   "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                       {"key": "kubernetes.io/hostname", "operator": "In", "values": [node_name]}]}]}}},
          "status": {"phase": phase}}
    if claim:
        pv["spec"]["claimRef"] = {"namespace": claim[0], "name": claim[1]}
    return pv


LOCAL_CLASS = {"metadata": {"name": "local-storage"}, "provisioner": k8s.NO_PROVISIONER, "reclaimPolicy": "Retain",
               "volumeBindingMode": "WaitForFirstConsumer"}
NODES = [node("n-c86", "c86"), node("n-arm", "arm"), node("n-mips", "mips")]


# --- the objects -----------------------------------------------------------------------------

def test_one_pod_on_the_families_arches_from_the_model_with_the_images_entry_and_the_conf():
    (sts,) = by_kind(k8s.objects(spec()), "StatefulSet")
    assert sts["spec"]["replicas"] == 1 and sts["spec"]["serviceName"] == "postgresql-headless"
    pod = sts["spec"]["template"]["spec"]
    term = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]
    assert term["matchExpressions"] == [{"key": "kubernetes.io/arch", "operator": "In",
                                         "values": [arch.lookup("c86").oci_arch, arch.lookup("arm").oci_arch]}]
    (container,) = pod["containers"]
    assert container["image"] == "registry.local:5000/appstore/postgresql:15.14"
    # The image's entry is postgres itself: the first start (initdb once, then postgres) is the role's.
    assert container["command"][:2] == ["/bin/sh", "-ec"] and container["command"][3] == "postgresql-first-start"
    script = container["command"][2]
    assert 'if [ ! -s "/var/lib/postgresql/data/pgdata/PG_VERSION" ]; then' in script
    assert '"/usr/bin/initdb" -D "/var/lib/postgresql/data/pgdata" --username="postgres" ' \
           '--pwfile="/etc/xinchuang-db-auth/password"' in script
    assert 'exec "/usr/bin/postgres" -D "/var/lib/postgresql/data/pgdata"' in script
    assert script.rstrip().endswith('"$@"')
    assert container["args"] == ["-c", "config_file=/etc/xinchuang-db/postgresql.conf"]
    env = dict((e["name"], e["value"]) for e in container["env"])
    assert env == {"PGDATA": "/var/lib/postgresql/data/pgdata"}
    mounts = dict((m["name"], m["mountPath"]) for m in container["volumeMounts"])
    assert mounts == {"data": "/var/lib/postgresql/data", "conf": "/etc/xinchuang-db", "auth": "/etc/xinchuang-db-auth",
                      "tmp": "/tmp"}


def test_readiness_is_select_1_through_the_client_on_the_socket_without_a_password():
    (sts,) = by_kind(k8s.objects(spec()), "StatefulSet")
    probe = sts["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["exec"]["command"]
    assert probe[0] == "/usr/bin/psql" and probe[-2:] == ["-c", "select 1"]
    assert probe[probe.index("-h") + 1] == "/tmp" and probe[probe.index("-U") + 1] == "postgres"
    assert not any("PASSWORD" in p.upper() for p in probe)


def test_the_pod_passes_pod_security_restricted_as_the_images_user():
    (sts,) = by_kind(k8s.objects(spec()), "StatefulSet")
    pod = sts["spec"]["template"]["spec"]
    sc, csc = pod["securityContext"], pod["containers"][0]["securityContext"]
    assert (sc["runAsNonRoot"], sc["runAsUser"], sc["runAsGroup"], sc["fsGroup"]) == (True, 65532, 65532, 65532)
    assert sc["fsGroupChangePolicy"] == "OnRootMismatch" and sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert csc["allowPrivilegeEscalation"] is False and csc["capabilities"] == {"drop": ["ALL"]}
    assert csc["readOnlyRootFilesystem"] is True and pod["automountServiceAccountToken"] is False


def test_the_data_is_claimed_from_the_class_and_kept_with_the_statefulset():
    (sts,) = by_kind(k8s.objects(spec(storage_class="local-a", storage_size="20Gi")), "StatefulSet")
    (template,) = sts["spec"]["volumeClaimTemplates"]
    assert template["metadata"]["name"] == "data"
    assert template["spec"]["storageClassName"] == "local-a"
    assert template["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert template["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert sts["spec"]["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert k8s.names("postgresql")["claim"] == "data-postgresql-0"


def test_a_headless_service_and_a_client_service_select_the_pod():
    headless, client = by_kind(k8s.objects(spec(service_port=15432, service_type="NodePort")), "Service")
    (sts,) = by_kind(k8s.objects(spec()), "StatefulSet")
    pod_labels = sts["spec"]["template"]["metadata"]["labels"]
    for svc in (headless, client):
        assert all(pod_labels[k] == v for k, v in svc["spec"]["selector"].items())
    assert headless["spec"]["clusterIP"] == "None" and headless["spec"]["publishNotReadyAddresses"] is True
    assert headless["spec"]["ports"][0]["port"] == 5432
    assert (client["spec"]["type"], client["spec"]["ports"][0]["port"], client["spec"]["ports"][0]["targetPort"]) == (
        "NodePort", 15432, "sql")


def test_objects_are_in_apply_order_and_all_in_the_namespace():
    objs = k8s.objects(spec())
    assert [o["kind"] for o in objs] == ["Namespace", "ConfigMap", "Service", "Service", "StatefulSet"]
    assert all(o["metadata"]["namespace"] == "xinchuang-db" for o in objs[1:])


def test_the_superusers_password_is_a_secret_in_base64_and_never_in_the_other_objects():
    (auth,) = k8s.secrets(spec(), "s3cret pass")
    assert auth["metadata"]["name"] == "postgresql-auth"
    assert base64.b64decode(auth["data"]["password"]) == b"s3cret pass"
    assert "s3cret" not in repr(k8s.objects(spec())) and "s3cret" not in repr(k8s.plan(spec()))
    assert k8s.secrets(spec(), "s3cret pass") == k8s.secrets(spec(), "s3cret pass")


# --- the engine kingbase (rendered only) -------------------------------------------------------

def kb_spec(**over):
    return spec(name="kingbase", engine=engine("kingbase"), image="kingbase/kes:v9", **over)


def test_kingbase_licenses_are_one_file_per_architecture_named_as_uname_says():
    auth, lic = k8s.secrets(kb_spec(), "pw", {"amd64": "QUJD", "arm64": "REVG"})
    assert auth["metadata"]["name"] == "kingbase-auth"
    assert lic["data"] == {"license-" + arch.lookup("amd64").uname: "QUJD", "license-" + arch.lookup("arm64").uname: "REVG"}
    (sts,) = by_kind(k8s.objects(kb_spec()), "StatefulSet")
    container = sts["spec"]["template"]["spec"]["containers"][0]
    script = container["command"][2]
    assert 'cp "/etc/xinchuang-db-license/license-$(uname -m)" "/opt/Kingbase/ES/V9/Server/bin/license.dat"' in script
    assert '"/opt/Kingbase/ES/V9/Server/bin/kingbase" -D "/opt/Kingbase/ES/V9/userdata/data" "$@"' in script
    assert container["args"] == ["-c", "config_file=/etc/xinchuang-db/kingbase.conf"]
    assert container["readinessProbe"]["exec"]["command"][0].endswith("/ksql")
    assert k8s.plan(kb_spec())["license_goarches"] == ["amd64", "arm64"]
    assert k8s.plan(spec())["license_goarches"] == []


def test_kingbase_without_a_license_for_a_family_is_refused_naming_it():
    problems = k8s.input_problems(kb_spec(), "pw", {"amd64": "/b/amd64.dat"})
    assert len(problems) == 1
    assert "kingbase_license_files has no entry for arm64 (family arm)" in problems[0]
    (missing,) = k8s.input_problems(kb_spec(families=["c86"]), "pw", {"amd64": "/b/a.dat"}, ["/b/a.dat"])
    assert "kingbase_license_files.amd64 /b/a.dat does not exist on the controller" in missing
    assert k8s.input_problems(kb_spec(), "pw", {"amd64": "/a", "arm64": "/b"}) == []


# --- configuration: one place for the keys, restart or reload -------------------------------

def test_the_configmap_writes_the_keys_as_the_host_form_does_and_the_roles_own():
    data = k8s.configmap(spec(conf={"work_mem": "8MB", "shared_buffers": "256MB"}))["data"]
    main = data["postgresql.conf"].splitlines()
    host_lines = [line["line"] for line in db.conf_lines({"work_mem": "8MB", "shared_buffers": "256MB"})]
    assert all(line in main for line in host_lines)
    assert "hba_file = '/etc/xinchuang-db/pg_hba.conf'" in main
    assert "ident_file = '/etc/xinchuang-db/pg_ident.conf'" in main


def test_hba_has_the_inventorys_entries_first_then_the_containers_user_and_passwords():
    hba = [{"type": "host", "address": "10.0.0.0/8", "method": "reject"}]
    text = k8s.configmap(spec(hba=hba))["data"]["pg_hba.conf"]
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert lines[0].split() == ["host", "all", "all", "10.0.0.0/8", "reject"]
    assert lines[1].split() == ["local", "all", "all", "peer", "map=" + k8s.IDENT_MAP]
    assert lines[2].split() == ["host", "all", "all", "all", "scram-sha-256"]
    ident = k8s.configmap(spec())["data"]["pg_ident.conf"]
    assert "%s /^.*$ postgres" % k8s.IDENT_MAP in ident


def digest(conf, hba=None, name="postgresql"):
    return k8s.restart_digest(engine(name), conf, hba)


def test_a_key_read_at_start_only_rolls_the_pod_and_a_reload_key_does_not():
    base = {"work_mem": "4MB", "shared_buffers": "128MB"}
    assert digest(dict(base, work_mem="8MB")) == digest(base)
    assert digest(base, [{"type": "host", "address": "10.0.0.0/8", "method": "reject"}]) == digest(base)
    assert digest(dict(base, shared_buffers="256MB")) != digest(base)
    assert digest(dict(base, max_connections=200)) != digest(base)


def data_of(conf, hba=None):
    return k8s.conf_files(engine("postgresql"), conf, hba)


def test_the_configmaps_change_decides_restart_or_reload_as_the_host_form():
    pg = engine("postgresql")
    base = data_of({"work_mem": "4MB"})
    assert k8s.conf_change(None, base, pg) == "none"
    assert k8s.conf_change(base, base, pg) == "none"
    assert k8s.conf_change(base, data_of({"work_mem": "8MB"}), pg) == "reload"
    assert k8s.conf_change(base, data_of({}), pg) == "reload"  # a removed key: back to its default
    assert k8s.conf_change(base, data_of({"work_mem": "4MB", "shared_buffers": "1GB"}), pg) == "restart"
    assert k8s.conf_change(base, data_of({"work_mem": "4MB"}, [{"type": "local", "method": "trust"}]), pg) == "reload"


KEYS = st.sampled_from(["work_mem", "shared_buffers", "max_connections", "log_min_duration_statement",
                        "wal_level", "autovacuum_naptime"])
CONFS = st.dictionaries(KEYS, st.sampled_from(["1", "2", "on", "replica"]), max_size=4)


@settings(max_examples=200, deadline=None)
@given(CONFS, CONFS)
def test_the_pod_rolls_exactly_when_the_change_needs_a_restart(before, after):
    pg = engine("postgresql")
    rolls = digest(before) != digest(after)
    action = k8s.conf_change(data_of(before), data_of(after), pg)
    assert rolls == (action == "restart")
    if not rolls:
        assert action == ("none" if before == after else "reload")


def test_an_engine_whose_rule_is_always_rolls_for_any_change():
    always = dict(engine("postgresql"), restart_rule="always")
    assert k8s.restart_digest(always, {"work_mem": "8MB"}) != k8s.restart_digest(always, {"work_mem": "4MB"})
    assert k8s.conf_change(data_of({"work_mem": "4MB"}), data_of({"work_mem": "8MB"}), always) == "restart"


def test_the_plan_gives_commands_that_split_back_and_the_digest_the_pod_answers():
    plan = k8s.plan(spec(conf={"work_mem": "8MB"}))
    pg = engine("postgresql")
    assert shlex.split(plan["reload_command"]) == k8s.client_argv(pg, "select pg_reload_conf()")
    assert shlex.split(plan["ready_command"])[-1] == "select 1"
    sql = shlex.split(plan["files_digest_command"])[-1]
    assert sql.count("pg_read_file('/etc/xinchuang-db/") == 3
    data = plan["conf_data"]
    assert plan["files_digest"] == " ".join(
        hashlib.md5(data[f].encode()).hexdigest() for f in ("postgresql.conf", "pg_hba.conf", "pg_ident.conf"))
    assert plan["platforms"] == sorted([arch.oci_platform("c86"), arch.oci_platform("arm")])
    assert (plan["client"], plan["socket_dir"], plan["port"]) == ("/usr/bin/psql", "/tmp", 5432)


# --- inputs ----------------------------------------------------------------------------------

def test_good_input_has_no_problem():
    assert k8s.input_problems(spec(), "pw") == []


@pytest.mark.parametrize("over, password, words", [
    ({"families": []}, "pw", ["kingbase_families is empty", "c86, arm, loongarch, sw64, mips"]),
    ({"families": ["c86", "x86_64"]}, "pw", ["kingbase_families entry 'x86_64' is not a family"]),
    ({"replicas": 3}, "pw", ["kingbase_replicas 3", "kingbase_replicas: 1"]),
    ({}, "", ["kingbase_system_password is empty"]),
    ({"storage_size": "lots"}, "pw", ["kingbase_storage_size 'lots'", "8Gi"]),
    ({"storage_class": ""}, "pw", ["kingbase_storage_class is empty"]),
    ({"name": "Pg_1"}, "pw", ["kingbase_name 'Pg_1'"]),
    ({"namespace": "Db"}, "pw", ["kingbase_namespace 'Db'"]),
    ({"service_type": "Ingress"}, "pw", ["kingbase_service_type 'Ingress'"]),
    ({"registry": "https://registry.local"}, "pw", ["kingbase_registry 'https://registry.local'", "host[:port]"]),
    ({"registry": ""}, "pw", ["kingbase_registry ''", "xinchuang_registry"]),
    ({"registry_endpoint": "https://172.29.0.5:5000"}, "pw",
     ["kingbase_registry_endpoint 'https://172.29.0.5:5000'", "host[:port]"]),
    ({"image": "appstore/postgresql"}, "pw", ["kingbase_image: image reference 'appstore/postgresql' has neither",
                                              "repository:tag"]),
    ({"image": "other.local:5000/appstore/postgresql:15"}, "pw", ["names registry 'other.local:5000'"]),
    ({"conf": {"port": 5433, "listen_addresses": "*"}}, "pw", ["kingbase_conf sets listen_addresses, port"]),
    ({"conf": {"block_size": 8192}}, "pw", ["'block_size' is fixed"]),
    ({"hba": [{"type": "host", "method": "trust"}]}, "pw", ["kingbase_hba[0]"]),
    ({"conf": {"shared_buffers": "900MB"}}, "pw", ["shared_buffers 900MB", "kingbase_resources.limits.memory 1Gi"]),
    ({"engine": engine("dameng")}, "pw", ["kingbase_engine dameng has no kubernetes form"]),
])
def test_bad_input_is_named_with_its_fix(over, password, words):
    problems = k8s.input_problems(spec(**over), password)
    text = " | ".join(problems)
    for word in words:
        assert word in text, text


def test_every_bad_input_is_named_at_once():
    problems = k8s.input_problems(spec(families=["risc-v"], replicas=2, storage_size="x"), "")
    assert len(problems) == 4


# --- the cluster -----------------------------------------------------------------------------

def test_an_available_retained_local_pv_of_a_family_node_is_enough():
    assert k8s.cluster_problems(spec(), NODES, [LOCAL_CLASS], [local_pv("pv1", "n-arm")], []) == []


def test_no_node_of_a_family_is_named():
    (problem,) = k8s.cluster_problems(spec(families=["c86", "loongarch"]), NODES, [LOCAL_CLASS],
                                      [local_pv("pv1", "n-c86")], [])
    assert "family loongarch has no node (kubernetes.io/arch=%s)" % arch.lookup("loongarch").oci_arch in problem
    problems = k8s.cluster_problems(spec(families=["sw64"]), NODES, [LOCAL_CLASS], [local_pv("pv1", "n-c86")], [])
    assert "no node has kubernetes.io/arch in %s" % arch.lookup("sw64").oci_arch in problems[0]


def test_a_missing_storage_class_is_named():
    (problem,) = k8s.cluster_problems(spec(), NODES, [], [], [])
    assert "StorageClass local-storage does not exist" in problem and "storage_local" in problem


@pytest.mark.parametrize("volumes, words", [
    ([], ["the class has none"]),
    ([local_pv("pv1", "n-mips")], ["pv1 on a node outside the families"]),
    ([local_pv("pv1", "n-c86", size="1Gi")], ["pv1 of 1Gi"]),
    ([local_pv("pv1", "n-c86", policy="Delete")], ["pv1 with reclaim policy Delete", "kingbase_storage_allow_delete"]),
    ([local_pv("pv1", "n-c86", phase="Bound", claim=("other", "data"))], ["pv1 Bound"]),
    ([local_pv("pv1", "n-c86", klass="other")], ["the class has none"]),
])
def test_no_volume_for_the_claim_is_named_with_what_was_found(volumes, words):
    (problem,) = k8s.cluster_problems(spec(), NODES, [LOCAL_CLASS], volumes, [])
    assert "no PersistentVolume of StorageClass local-storage can hold the database's claim (8Gi" in problem
    for word in words:
        assert word in problem, problem


def test_a_pv_with_reclaim_delete_is_taken_when_the_inventory_says_so():
    assert k8s.cluster_problems(spec(), NODES, [LOCAL_CLASS], [local_pv("pv1", "n-c86", policy="Delete")], [],
                                allow_delete=True) == []


def test_a_dynamic_class_that_deletes_is_refused_unless_allowed():
    gp = {"metadata": {"name": "fast"}, "provisioner": "ebs.csi.aws.com"}  # reclaimPolicy absent: Delete
    (problem,) = k8s.cluster_problems(spec(storage_class="fast"), NODES, [gp], [], [])
    assert "StorageClass fast deletes a volume with its claim (reclaimPolicy Delete)" in problem
    assert k8s.cluster_problems(spec(storage_class="fast"), NODES, [gp], [], [], allow_delete=True) == []
    assert k8s.cluster_problems(spec(storage_class="fast"), NODES, [dict(gp, reclaimPolicy="Retain")], [], []) == []


def test_a_rerun_with_the_claim_bound_needs_no_free_volume_but_a_retained_one():
    claim = {"metadata": {"name": "data-postgresql-0", "namespace": "xinchuang-db"},
             "spec": {"volumeName": "pv1"}, "status": {"phase": "Bound"}}
    bound = local_pv("pv1", "n-c86", phase="Bound", claim=("xinchuang-db", "data-postgresql-0"))
    assert k8s.cluster_problems(spec(), NODES, [LOCAL_CLASS], [bound], [claim]) == []
    deleting = local_pv("pv1", "n-c86", phase="Bound", policy="Delete", claim=("xinchuang-db", "data-postgresql-0"))
    (problem,) = k8s.cluster_problems(spec(), NODES, [LOCAL_CLASS], [deleting], [claim])
    assert "PersistentVolume pv1, which holds the database" in problem and "Retain" in problem


def test_a_pv_reserved_for_the_claim_counts_even_when_not_available():
    reserved = local_pv("pv1", "n-c86", phase="Released", claim=("xinchuang-db", "data-postgresql-0"))
    assert k8s.cluster_problems(spec(), NODES, [LOCAL_CLASS], [reserved], []) == []


def test_node_affinity_is_matched_on_the_nodes_labels_not_their_names():
    nodes = [node("n1", "c86", **{"kubernetes.io/hostname": "host-a"})]
    pv = local_pv("pv1", "host-a")
    assert k8s.cluster_problems(spec(families=["c86"]), nodes, [LOCAL_CLASS], [pv], []) == []
    assert k8s.node_matches(nodes[0], [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}])
    assert not k8s.node_matches(nodes[0], [{"matchExpressions": [{"key": "zone", "operator": "Exists"}]}])


def test_the_image_must_serve_every_family_naming_the_nodes():
    images = [{"ref": "appstore/postgresql:15.14", "exists": True, "platforms": ["linux/amd64"]}]
    (problem,) = k8s.image_problems(images, NODES, ["c86", "arm"])
    assert "appstore/postgresql:15.14 has no %s image, which nodes n-arm need" % arch.oci_platform("arm") in problem
    assert k8s.image_problems(images, NODES, ["c86"]) == []
    (absent,) = k8s.image_problems([{"ref": "appstore/postgresql:15.14", "exists": False}], NODES, ["c86"])
    assert "is not in the registry" in absent


def test_the_engines_image_is_the_app_stores_postgresql():
    # One image of PostgreSQL in the project: the kubernetes form's default is the catalogue's.
    with open(os.path.join(ROOT, "roles", "appstore", "defaults", "main.yml")) as fh:
        image = yaml.safe_load(fh)["appstore_catalogue"]["postgresql"]["image"]
    assert engine("postgresql")["kubernetes"]["image"] == "%s:%s" % (image["repository"], image["tag"])


def test_the_engines_image_is_built_here_with_what_the_pod_runs():
    # The recipe that builds the engine's image (app_images.py) has the programs the Pod starts,
    # the shell of the first-start script and the client of the probe and the role's SQL, at
    # the same paths in the child of every suite (bookworm's PostgreSQL 15, sid's 18).
    pg = engine("postgresql")
    repository = pg["kubernetes"]["image"].rsplit(":", 1)[0]
    recipe = app_images.recipe_of(repository)
    assert recipe == "postgresql"
    (sts,) = by_kind(k8s.objects(spec()), "StatefulSet")
    script = sts["spec"]["template"]["spec"]["containers"][0]["command"][2]
    bin_dir = pg["kubernetes"]["bin_dir"]
    assert '"%s/initdb"' % bin_dir in script and '"%s/postgres"' % bin_dir in script
    assert len(app_images.APPS[recipe]["suites"]) > 1
    for suite in app_images.APPS[recipe]["suites"]:
        for path in ("/bin/sh", bin_dir + "/initdb", bin_dir + "/postgres", pg["kubernetes"]["client"]):
            assert app_images.provides(recipe, path, suite), (suite, path)
    assert pg["kubernetes"]["run_as"] == int(app_images.NONROOT.split(":", maxsplit=1)[0])
    env = dict(e.split("=", 1) for e in app_images.APPS[recipe]["env"])
    assert env["PGDATA"] == pg["kubernetes"]["data_dir"]


def test_the_images_needs_are_in_the_configmap_and_the_inventory_may_override_them():
    # The image has no LLVM: jit off, as a key of the ConfigMap (not on the command line, where
    # it would silently win over kingbase_conf).
    assert "jit = 'off'" in data_of({})["postgresql.conf"].splitlines()
    assert "jit = 'on'" in data_of({"jit": "on"})["postgresql.conf"].splitlines()
    (sts,) = by_kind(k8s.objects(spec()), "StatefulSet")
    assert "jit" not in repr(sts["spec"]["template"]["spec"]["containers"][0]["command"])


def test_the_image_is_the_engines_in_the_registry_unless_given():
    (sts,) = by_kind(k8s.objects(spec(image="")), "StatefulSet")
    assert sts["spec"]["template"]["spec"]["containers"][0]["image"] == \
        "registry.local:5000/" + engine("postgresql")["kubernetes"]["image"]
    plan = k8s.plan(spec(image="registry.local:5000/appstore/postgresql:15.14"))
    assert (plan["registry"], plan["image_ref"]) == ("registry.local:5000", "appstore/postgresql:15.14")
    (sts,) = by_kind(k8s.objects(spec(registry="registry.local:5000/")), "StatefulSet")
    assert sts["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.local:5000/appstore/postgresql:15.14"


def test_the_index_is_read_at_the_controllers_endpoint_and_the_pod_pulls_by_the_registrys_name():
    given = spec(registry="xc-lab-registry:5000", registry_endpoint="172.29.0.5:5000")
    assert k8s.plan(given)["registry"] == "172.29.0.5:5000"
    (sts,) = by_kind(k8s.objects(given), "StatefulSet")
    assert sts["spec"]["template"]["spec"]["containers"][0]["image"].startswith("xc-lab-registry:5000/appstore/")
    assert k8s.plan(spec(registry="xc-lab-registry:5000", registry_endpoint=""))["registry"] == "xc-lab-registry:5000"
