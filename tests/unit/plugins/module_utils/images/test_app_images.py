"""The recipes of the application images (plugins/module_utils/images/app_images.py), read by the image
builder (images/recipes.py, images/builder.py) and by the app store (appstore.py)."""

import json
import posixpath

import pytest

from tests import paths
from ansible_collections.xinchuang.cloud.plugins.module_utils.images import app_images
from ansible_collections.xinchuang.cloud.plugins.module_utils.images import recipes
from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from ansible_collections.xinchuang.cloud.plugins.module_utils.bundle import policy as bundle_policy

ROOT = paths.ROOT


def test_each_repository_has_one_recipe_and_each_recipe_takes_its_main_package():
    repositories = [spec["repository"] for spec in app_images.APPS.values()]
    assert len(set(repositories)) == len(repositories)
    assert app_images.built_repositories() == sorted(repositories)
    for name, spec in app_images.APPS.items():
        assert app_images.recipe_of(spec["repository"]) == name
        for suite in spec.get("suites") or [bundle_policy.DEFAULT_DEBIAN_SUITE]:
            assert any(take.split(":", maxsplit=1)[0] == app_images.main_package(name, suite)
                       for take in app_images.recipe(name, suite, "amd64")["takes"]), (name, suite)
    assert app_images.recipe_of("appstore/nope") is None
    assert set(app_images.FAMILIES) < set(arch.families()) and "sw64" not in app_images.FAMILIES


def test_the_image_build_reads_the_recipes_from_here():
    recipe = json.loads(recipes.app_cache_recipe("nginx"))
    assert recipe == {"app": "nginx", "spec": app_images.APPS["nginx"], "user": app_images.NONROOT}
    # The cache key of a child is its suite's recipe: another major, another key.
    sid = json.loads(recipes.app_cache_recipe("postgresql", "sid"))
    assert sid["spec"] == app_images.recipe("postgresql", "sid") != app_images.recipe("postgresql")
    with pytest.raises(recipes.ImagesError, match="unknown application image 'nope'; known: .*nginx"):
        recipes.app_cache_recipe("nope")


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
    # PostgreSQL too: sid (loong64) ships another major, under a tag of its own.
    assert app_images.families_of("postgresql") == list(app_images.FAMILIES)
    for name, spec in app_images.APPS.items():
        assert set(spec.get("families", app_images.FAMILIES)) <= set(app_images.FAMILIES), name
    assert all(arch.family_of(g) in app_images.families_of("postgresql") for g in ("amd64", "arm64", "loong64", "mips64le"))
    assert arch.family_of("loong64") in app_images.families_of("nginx")


def test_a_recipe_of_suites_takes_the_suites_major_everywhere():
    bookworm, sid = app_images.recipe("postgresql", "bookworm"), app_images.recipe("postgresql", "sid")
    assert (bookworm["version_of"], sid["version_of"]) == ("postgresql-15", "postgresql-18")
    assert app_images.main_package("postgresql") == "postgresql-15"  # the catalogue's tags: bookworm's
    assert app_images.main_package("postgresql", "sid") == "postgresql-18"
    filled = json.dumps([sid["takes"], bookworm["takes"], sid["links"], sid["env"], sid["entrypoint"]])
    assert "suites" not in sid and "{major}" not in filled and "{server_libs}" not in filled
    assert "libnuma" in sid["takes"][0] and "libnuma" not in bookworm["takes"][0]
    assert sid["links"]["usr/bin/psql"] == "../lib/postgresql/18/bin/psql"
    assert sid["entrypoint"] == ["/usr/lib/postgresql/18/bin/postgres"]
    # A recipe without suites is the same for every suite.
    assert app_images.recipe("nginx", "sid") is app_images.APPS["nginx"]


def test_every_suite_of_the_lab_has_its_values_and_another_is_refused_with_the_fix():
    suites = set(bundle_policy.DEBIAN_SUITES.values()) | {bundle_policy.DEFAULT_DEBIAN_SUITE}
    assert suites <= set(app_images.APPS["postgresql"]["suites"])
    with pytest.raises(ValueError, match=r"recipe postgresql has no values for Debian trixie .*add that suite's major"):
        app_images.recipe("postgresql", "trixie")


def test_what_an_image_provides_is_what_its_takes_links_and_files_give():
    assert app_images.provides("etcd", "/usr/bin/etcd")
    # The shell the postgresql chart starts: a link to dash; /bin is /usr/bin (merged /usr).
    assert app_images.provides("postgresql", "/bin/sh") and app_images.provides("postgresql", "/usr/bin/dash")
    assert app_images.provides("postgresql", "/usr/lib/postgresql/15/lib/plpgsql.so")
    assert app_images.provides("postgresql", "/usr/lib/postgresql/18/lib/plpgsql.so", "sid")
    assert not app_images.provides("postgresql", "/usr/lib/postgresql/15/lib/plpgsql.so", "sid")
    assert app_images.provides("postgresql", "/etc/passwd")
    # The client the kingbase role's kubernetes form probes and talks through, not Debian's
    # wrapper: /usr/bin/psql is the image's link to the major's binary, which it takes.
    assert app_images.provides("postgresql", "/usr/lib/postgresql/15/bin/psql")
    assert app_images.provides("postgresql", "/usr/bin/psql")
    assert app_images.provides("postgresql", "/usr/bin/psql", "sid")
    # Left out: the JIT, whose LLVM the image does not carry.
    assert not app_images.provides("postgresql", "/usr/lib/postgresql/15/lib/llvmjit.so")
    assert not app_images.provides("postgresql", "/usr/lib/postgresql/15/lib/bitcode/postgres.index.bc")
    assert not app_images.provides("nginx", "/bin/sh")


def test_a_link_provides_a_file_only_when_its_target_is_in_the_image(monkeypatch):
    monkeypatch.setitem(app_images.APPS, "dangling", {
        "repository": "x/dangling", "version_of": "dash", "takes": ["dash:usr/bin/dash:libc6"],
        "links": {"usr/bin/sh": "dash", "usr/bin/psql": "../lib/postgresql/15/bin/psql", "usr/bin/a": "b", "usr/bin/b": "a"}})
    assert app_images.provides("dangling", "/bin/sh")
    assert not app_images.provides("dangling", "/usr/bin/psql")
    assert not app_images.provides("dangling", "/usr/bin/a")  # a loop of links provides nothing


def test_the_image_build_adds_the_recipes_links_and_environment():
    spec = app_images.recipe("postgresql", "sid", "loong64")
    links, _dirs = recipes.app_layer_extras(spec)
    assert ("/usr/bin/sh", "dash") in links and ("/usr/bin/initdb", "../lib/postgresql/18/bin/initdb") in links
    fields = recipes.app_config_fields(spec)
    assert "PGDATA=/var/lib/postgresql/data/pgdata" in fields["env"] and fields["user"] == app_images.NONROOT
    passwd = [text for dest, _name, text in recipes.app_own_files(spec) if dest == "/etc/passwd"][0]
    assert "postgres:x:65532:65532:" in passwd


# The Debian architectures of the lab's children, by suite (hack/lab/archs.sh: loong64 from sid).
LAB_CHILDREN = [("bookworm", "amd64"), ("bookworm", "arm64"), ("bookworm", "mips64el"), ("sid", "loong64")]


@pytest.mark.parametrize("suite, deb_arch", LAB_CHILDREN)
def test_tomcat_runs_on_the_jre_and_the_jars_its_child_takes(suite, deb_arch):
    """What the entrypoint starts is in each child: java (the link into the JRE of the child's
    architecture), and every jar of Tomcat's lib/ is a link to a jar the child takes; the JSP
    compiler's batch jar is sid's own package and bookworm's core jar."""
    spec = app_images.recipe("tomcat", suite, deb_arch)
    java = spec["entrypoint"][0]
    assert java == "/usr/bin/java" and spec["links"]["usr/bin/java"] == "../lib/jvm/java-17-openjdk-%s/bin/java" % deb_arch
    assert app_images.provides("tomcat", java, suite, deb_arch)
    other = "arm64" if deb_arch != "arm64" else "amd64"  # another architecture's JRE is not taken
    assert not app_images.provides("tomcat", "/usr/lib/jvm/java-17-openjdk-%s/bin/java" % other, suite, deb_arch)
    lib = [path for path in spec["links"] if path.startswith("usr/share/tomcat/lib/")]
    assert len(lib) == len(app_images.TOMCAT_JARS)
    for path in lib:
        assert app_images.provides("tomcat", "/" + path, suite, deb_arch), path
    batch = posixpath.basename(spec["links"]["usr/share/tomcat/lib/eclipse-jdt-core-compiler-batch.jar"])
    assert batch == {"bookworm": "eclipse-jdt-core.jar", "sid": "eclipse-jdt-core-compiler-batch.jar"}[suite]
    classpath = spec["entrypoint"][spec["entrypoint"].index("-classpath") + 1]
    assert classpath == "/usr/share/tomcat/lib/*" and spec["entrypoint"][-1] == "org.apache.catalina.startup.Bootstrap"
    for path in ("/var/lib/tomcat/conf/server.xml", "/var/lib/tomcat/conf/web.xml",
                 "/var/lib/tomcat/webapps/ROOT/index.html", "/etc/java-17-openjdk/security/java.security"):
        assert app_images.provides("tomcat", path, suite, deb_arch), path
    # Left out: what links libraries the image does not hold, and the trust store's dangling link.
    jre = "/usr/lib/jvm/java-17-openjdk-%s/" % deb_arch
    for path in ("lib/libfontmanager.so", "lib/libjsound.so", "lib/security/cacerts"):
        assert not app_images.provides("tomcat", jre + path, suite, deb_arch), path
    assert app_images.provides("tomcat", jre + "lib/server/libjvm.so", suite, deb_arch)
    assert app_images.main_package("tomcat", suite) == "libtomcat10-java"


def test_a_recipe_that_names_the_architecture_is_refused_without_one():
    with pytest.raises(ValueError, match=r"recipe tomcat names the Debian architecture .*deb_arch"):
        app_images.recipe("tomcat")
    with pytest.raises(ValueError, match="recipe tomcat names the Debian architecture"):
        app_images.provides("tomcat", "/usr/bin/java")
    # Recipes that do not name it are the same without one.
    assert app_images.recipe("nginx") is app_images.APPS["nginx"]
    assert app_images.recipe("postgresql", "sid") == app_images.recipe("postgresql", "sid", "loong64")


def test_tomcats_server_xml_and_web_xml_are_well_formed_and_serve_8080():
    import xml.etree.ElementTree as ET
    server = ET.fromstring(app_images.TOMCAT_SERVER_XML.split("?>", 1)[1])
    (connector,) = server.iter("Connector")
    assert connector.get("port") == "8080" and server.get("port") == "-1"
    assert "8080/tcp" in app_images.APPS["tomcat"]["expose"]
    web = ET.fromstring(app_images.TOMCAT_WEB_XML.split("?>", 1)[1])
    ns = "{https://jakarta.ee/xml/ns/jakartaee}"
    classes = sorted(s.find(ns + "servlet-class").text for s in web.iter(ns + "servlet"))
    assert classes == ["org.apache.catalina.servlets.DefaultServlet", "org.apache.jasper.servlet.JspServlet"]
    assert {m.find(ns + "extension").text for m in web.iter(ns + "mime-mapping")} >= {"html", "css", "js", "json"}
