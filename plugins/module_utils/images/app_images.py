# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The images the project builds from Debian's packages (``XC_IMAGES_SET=apps hack/images.sh``),
as data: one recipe per image (``APPS``) - the repository it is pushed to, the package whose
version tags it, the files it takes of which packages, the files the project adds and its
configuration - and what the app store asks of them: which repositories a recipe builds.

This is the only copy of the recipes. ``images/recipes.py`` turns a recipe into a layer and a
config, and ``images/builder.py`` builds it; ``appstore.py`` calls an application's image
buildable here exactly when a recipe builds its repository (``recipe_of``), for the
``FAMILIES`` below.

Every image runs as a user other than root (uid 65532, no login), so it passes Pod Security
`restricted` with `runAsNonRoot`; ports are above 1024 where the program lets us choose.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import posixpath

from ansible_collections.xinchuang.cloud.plugins.module_utils.bundle import policy as bundle_policy
from ansible_collections.xinchuang.cloud.plugins.module_utils.images import debian_closure

# The families a recipe builds a child for: Debian builds its archive for them (loong64 in the
# ports archive, sid), and hack/images.sh builds for their GOARCHes (amd64, arm64, loong64,
# mips64le). Debian has no sw64 port, so a sw64 image always comes from the site (the vendor's
# repository).
FAMILIES = ("c86", "arm", "loongarch", "mips")

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

# The user and group of NONROOT by name, for the programs that look themselves up (PostgreSQL's
# initdb and postgres refuse to run as a user /etc/passwd does not know).
PASSWD = "root:x:0:0:root:/root:/usr/sbin/nologin\n%s:x:65532:65532:%s:%s:/usr/sbin/nologin\n"
GROUP = "root:x:0:\n%s:x:65532:\n"

# Tomcat 10 as Debian's libtomcat10-java ships it (bookworm 10.1.55, sid 10.1.60: sid has no
# tomcat10 package around it, so the image lays Tomcat out itself, the same way on every suite):
# its jars linked into /usr/share/tomcat/lib under the names Tomcat and Debian's tomcat10-common
# give them, and run by the java launcher with no shell (catalina.sh would need one).
TOMCAT_HOME, TOMCAT_BASE = "/usr/share/tomcat", "/var/lib/tomcat"
# lib/NAME.jar -> /usr/share/java/tomcat10-JAR.jar (catalina-ant, the Ant tasks, and the
# translations are left out), and Jasper's JSP compiler, which its manifest names beside it
# (eclipse-jdt-core-compiler-batch.jar: sid's package of the batch compiler, which bookworm's
# eclipse-jdt-core.jar holds itself; {jdt_batch} of the recipe's suites).
TOMCAT_JARS = dict([(name, "tomcat10-" + jar) for name, jar in (
    ("annotations-api", "annotations-api"), ("catalina", "catalina"), ("catalina-ha", "catalina-ha"),
    ("catalina-storeconfig", "storeconfig"), ("catalina-tribes", "tribes"), ("el-api", "el-api"),
    ("jasper", "jasper"), ("jasper-el", "jasper-el"), ("jaspic-api", "jaspic-api"), ("jsp-api", "jsp-api"),
    ("servlet-api", "servlet-api"), ("tomcat-api", "api"), ("tomcat-coyote", "coyote"), ("tomcat-dbcp", "dbcp"),
    ("tomcat-jdbc", "jdbc"), ("tomcat-jni", "jni"), ("tomcat-juli", "juli"), ("tomcat-util", "util"),
    ("tomcat-util-scan", "util-scan"), ("tomcat-websocket", "websocket"), ("websocket-api", "websocket-api"),
    ("websocket-client-api", "websocket-client-api"))]
    + [("eclipse-jdt-core", "eclipse-jdt-core"), ("eclipse-jdt-core-compiler-batch", "{jdt_batch}")])

# One connector on 8080, no shutdown port; WARs run where they are (no unpacking into the
# image's read-only tree), deployed at start only.
TOMCAT_SERVER_XML = """<?xml version="1.0" encoding="UTF-8"?>
<Server port="-1" shutdown="SHUTDOWN">
  <Listener className="org.apache.catalina.startup.VersionLoggerListener" />
  <Listener className="org.apache.catalina.core.JreMemoryLeakPreventionListener" />
  <Listener className="org.apache.catalina.core.ThreadLocalLeakPreventionListener" />
  <Service name="Catalina">
    <Connector port="8080" protocol="HTTP/1.1" connectionTimeout="20000" />
    <Engine name="Catalina" defaultHost="localhost">
      <Host name="localhost" appBase="webapps" unpackWARs="false" autoDeploy="false" />
    </Engine>
  </Service>
</Server>
"""

# The defaults every web application inherits (conf/web.xml): static files, JSP, the welcome
# files and the MIME types of a web page's own files.
TOMCAT_MIME = (("css", "text/css"), ("gif", "image/gif"), ("htm", "text/html"), ("html", "text/html"),
               ("ico", "image/x-icon"), ("jpeg", "image/jpeg"), ("jpg", "image/jpeg"), ("js", "text/javascript"),
               ("json", "application/json"), ("mjs", "text/javascript"), ("pdf", "application/pdf"),
               ("png", "image/png"), ("svg", "image/svg+xml"), ("txt", "text/plain"), ("wasm", "application/wasm"),
               ("woff", "font/woff"), ("woff2", "font/woff2"), ("xml", "application/xml"))
TOMCAT_WEB_XML = """<?xml version="1.0" encoding="UTF-8"?>
<web-app xmlns="https://jakarta.ee/xml/ns/jakartaee" version="6.0">
  <servlet>
    <servlet-name>default</servlet-name>
    <servlet-class>org.apache.catalina.servlets.DefaultServlet</servlet-class>
    <init-param><param-name>listings</param-name><param-value>false</param-value></init-param>
    <load-on-startup>1</load-on-startup>
  </servlet>
  <servlet>
    <servlet-name>jsp</servlet-name>
    <servlet-class>org.apache.jasper.servlet.JspServlet</servlet-class>
    <init-param><param-name>fork</param-name><param-value>false</param-value></init-param>
    <load-on-startup>3</load-on-startup>
  </servlet>
  <servlet-mapping><servlet-name>default</servlet-name><url-pattern>/</url-pattern></servlet-mapping>
  <servlet-mapping><servlet-name>jsp</servlet-name><url-pattern>*.jsp</url-pattern><url-pattern>*.jspx</url-pattern></servlet-mapping>
  <session-config><session-timeout>30</session-timeout></session-config>
%s
  <welcome-file-list>
    <welcome-file>index.html</welcome-file>
    <welcome-file>index.htm</welcome-file>
    <welcome-file>index.jsp</welcome-file>
  </welcome-file-list>
</web-app>
""" % "\n".join("  <mime-mapping><extension>%s</extension><mime-type>%s</mime-type></mime-mapping>" % pair
                for pair in TOMCAT_MIME)

TOMCAT_INDEX = """<!DOCTYPE html>
<html><head><title>Apache Tomcat</title></head>
<body><h1>Apache Tomcat</h1><p>Debian's Tomcat of the xinchuang.cloud app store.</p></body></html>
"""

# What catalina.sh would run: its system properties, the opens Tomcat's leak prevention needs on
# Java 17, Bootstrap. The JVM's own options (heap) come from JDK_JAVA_OPTIONS (the chart's).
TOMCAT_JAVA = [
    "/usr/bin/java",
    "-Dcatalina.home=" + TOMCAT_HOME, "-Dcatalina.base=" + TOMCAT_BASE, "-Djava.io.tmpdir=/tmp",
    "-Djava.util.logging.manager=org.apache.juli.ClassLoaderLogManager",
    "-Djava.protocol.handler.pkgs=org.apache.catalina.webresources",
    "-Djdk.tls.ephemeralDHKeySize=2048", "-Dorg.apache.catalina.security.SecurityListener.UMASK=0027",
    "--add-opens=java.base/java.lang=ALL-UNNAMED", "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/java.util=ALL-UNNAMED", "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
    "--add-opens=java.rmi/sun.rmi.transport=ALL-UNNAMED",
    "-classpath", TOMCAT_HOME + "/lib/*", "org.apache.catalina.startup.Bootstrap",
]

# The headless JRE of Debian's OpenJDK 17 (both suites), its directory named after the Debian
# architecture. Left out: the libraries a server never loads that link what the image does not
# hold (fonts, JPEG, colour, sound, smart cards), the compiler's symbol table, the packaging
# tool, and the trust store link (ca-certificates-java makes it at install: a WAR that calls out
# over TLS brings its own).
JRE = "usr/lib/jvm/java-17-openjdk-{deb_arch}/"
JRE_LEFT_OUT = ["lib/libfontmanager.so", "lib/libjavajpeg.so", "lib/liblcms.so", "lib/libjsound.so",
                "lib/libj2pcsc.so", "lib/ct.sym", "bin/jpackage", "lib/security/cacerts"]

# The OTP applications of Erlang's own packages RabbitMQ runs beside those with NIFs (its
# recipe's takes): those its Depends name in either suite.
RABBITMQ_OTP_APPS = ("eldap", "eunit", "inets", "mnesia", "parsetools", "public-key", "ssl", "syntax-tools", "tools",
                     "xmerl")

# One recipe per image:
#   repository    where hack/images.sh pushes it (an index with a child per family it builds)
#   families      the families it builds a child for (default FAMILIES): those whose Debian
#                 suite has its main package
#   suites        for a program Debian ships one major of per release (PostgreSQL), or packages
#                 differently per release (Tomcat's JSP compiler): per suite, the values of the
#                 {name} fields below (the major, the libraries of its dependencies), filled in
#                 by ``recipe``; {deb_arch}, the child's Debian architecture, is filled in too
#   version_of    the main package: its upstream version tags the image (bookworm's: the
#                 catalogue's tags; a suite's child of another version gets that version's tag)
#   takes         builder.debian_tree's PACKAGE:PATH[,PATH...][:LIBRARY,...] arguments (a path that
#                 starts with ! leaves that file or directory out)
#   files, dirs   what the project adds (path: text; path:mode)
#   links         symbolic links the project adds (path: target)
#   workdir, entrypoint, cmd, expose    the image configuration (user: NONROOT)
#   version_args  the arguments that make its program print its version (the image tests)
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
    # etcd (a Go program) as Debian builds it: the chart names its data directory and URLs.
    "etcd": {
        "repository": "appstore/etcd",
        "version_of": "etcd-server",
        "takes": ["etcd-server:usr/bin/etcd:libc6"],
        "dirs": ["tmp:1777", "var/lib/etcd:1777"],
        "entrypoint": ["/usr/bin/etcd"],
        "expose": ["2379/tcp", "2380/tcp"],
        "version_args": ["--version"],
    },
    # InfluxDB 1.x (a Go program); the chart gives its directories through the environment.
    "influxdb": {
        "repository": "appstore/influxdb",
        "version_of": "influxdb",
        "takes": ["influxdb:usr/bin/influxd:libc6"],
        "dirs": ["tmp:1777", "var/lib/influxdb:1777"],
        "entrypoint": ["/usr/bin/influxd"],
        "expose": ["8086/tcp"],
        "version_args": ["version"],
    },
    # PostgreSQL, the engine Kingbase KES derives from, of the major each suite ships (suites:
    # bookworm's 15 for c86, arm and mips, sid's 18 for loong64 - another version, so the loong64
    # child has a tag of its own): initdb and the server with their modules and data files (not
    # the LLVM JIT: no LLVM in the image, so jit is off), the time zones and the C.UTF-8 locale
    # they read, a shell (dash as /bin/sh) for the chart's first-start script and initdb's own
    # commands, and psql (the kingbase role's kubernetes form: its readiness probe is select 1
    # through the client, its SQL goes through it in the Pod). /usr/bin/initdb, postgres and
    # psql are links into the major's directory, so the chart and the role name one path for
    # every tag (PostgreSQL finds its libraries and data from the resolved link).
    "postgresql": {
        "repository": "appstore/postgresql",
        # What differs between the suites: the major, and the libraries its server depends on.
        "suites": {
            "bookworm": {"major": "15", "server_libs": "libc6,libgcc-s1,libgssapi-krb5,libicu,libldap,liblz4,libpam0g,"
                                                       "libpq5,libselinux1,libssl,libstdc++6,libsystemd0,libuuid1,"
                                                       "libxml2,libxslt1,libzstd1,zlib1g"},
            "sid": {"major": "18", "server_libs": "libc6,libgssapi-krb5,libicu,libldap,liblz4,libnuma,libpam0g,libpq5,"
                                                  "libselinux1,libssl,libsystemd0,liburing,libuuid1,libxml2,libxslt1,"
                                                  "libzstd1,zlib1g"},
        },
        "version_of": "postgresql-{major}",
        "takes": ["postgresql-{major}:usr/lib/postgresql/{major}/bin/initdb,usr/lib/postgresql/{major}/bin/postgres,"
                  "usr/lib/postgresql/{major}/lib/,!usr/lib/postgresql/{major}/lib/llvmjit.so,"
                  "!usr/lib/postgresql/{major}/lib/llvmjit_types.bc,!usr/lib/postgresql/{major}/lib/bitcode/,"
                  "usr/share/postgresql/{major}/:{server_libs}",
                  # The client alone (no pg_wrapper, no Perl): the binary, not Debian's /usr/bin/psql.
                  "postgresql-client-{major}:usr/lib/postgresql/{major}/bin/psql"
                  ":libc6,liblz4,libpq5,libreadline,libssl,libzstd1,zlib1g",
                  # Not its localtime, a link to the /etc/localtime the image has none of.
                  "tzdata:usr/share/zoneinfo/,!usr/share/zoneinfo/localtime",
                  # initdb --locale=C.UTF-8 (the chart's): glibc's compiled C.UTF-8.
                  "libc-bin:usr/lib/locale/C.utf8/",
                  "dash:usr/bin/dash:libc6"],
        "files": {"etc/passwd": PASSWD % ("postgres", "PostgreSQL", "/var/lib/postgresql"),
                  "etc/group": GROUP % "postgres"},
        "links": {"usr/bin/sh": "dash",
                  "usr/bin/initdb": "../lib/postgresql/{major}/bin/initdb",
                  "usr/bin/postgres": "../lib/postgresql/{major}/bin/postgres",
                  "usr/bin/psql": "../lib/postgresql/{major}/bin/psql"},
        "dirs": ["tmp:1777", "var/lib/postgresql:1777"],
        "env": ["PATH=/usr/lib/postgresql/{major}/bin:/usr/bin", "PGDATA=/var/lib/postgresql/data/pgdata"],
        "entrypoint": ["/usr/lib/postgresql/{major}/bin/postgres"],
        "cmd": ["-c", "jit=off", "-c", "unix_socket_directories=/tmp"],
        "expose": ["5432/tcp"],
        "version_args": ["--version"],
    },
    # Tomcat 10 on OpenJDK 17 (the layout above): one major on every suite, so a WAR meets the
    # same Servlet API (6.0, jakarta.*) on every family; the loong64 child (sid, 10.1.60) has a
    # tag of its own. A WAR goes to /var/lib/tomcat/webapps (NAME.war: context path /NAME).
    "tomcat": {
        "repository": "appstore/tomcat",
        "suites": {"bookworm": {"jdt_batch": "eclipse-jdt-core"}, "sid": {"jdt_batch": "eclipse-jdt-core-compiler-batch"}},
        "version_of": "libtomcat10-java",
        "takes": ["libtomcat10-java:usr/share/java/:libeclipse-jdt-core",
                  "openjdk-17-jre-headless:" + JRE + "bin/,"
                  + JRE + "lib/," + JRE + "conf/," + JRE + "release,"
                  + ",".join("!" + JRE + path for path in JRE_LEFT_OUT)
                  + ",etc/java-17-openjdk/:libc6,libgcc-s1,libstdc++6,zlib1g"],
        "links": dict([("usr/bin/java", "../lib/jvm/java-17-openjdk-{deb_arch}/bin/java")]
                      + [("usr/share/tomcat/lib/%s.jar" % name, "../../java/%s.jar" % jar)
                         for name, jar in TOMCAT_JARS.items()]),
        "files": {"var/lib/tomcat/conf/server.xml": TOMCAT_SERVER_XML,
                  "var/lib/tomcat/conf/web.xml": TOMCAT_WEB_XML,
                  "var/lib/tomcat/webapps/ROOT/index.html": TOMCAT_INDEX},
        # lib: the site's own jars (empty); work and logs: Tomcat writes there (the chart mounts
        # emptyDirs on them); conf/Catalina/localhost: where it looks for context files.
        "dirs": ["tmp:1777", "var/lib/tomcat/lib:0755", "var/lib/tomcat/work:1777", "var/lib/tomcat/logs:1777",
                 "var/lib/tomcat/conf/Catalina/localhost:0755"],
        "workdir": TOMCAT_BASE,
        "entrypoint": TOMCAT_JAVA,
        "cmd": ["start"],
        "expose": ["8080/tcp"],
        # What version.sh runs: Tomcat's ServerInfo on the image's JVM.
        "version_args": ["-classpath", TOMCAT_HOME + "/lib/*", "org.apache.catalina.util.ServerInfo"],
    },
    # RabbitMQ on Debian's Erlang (bookworm 3.10.8 on OTP 25, sid 4.3.6 on OTP 29: the loong64
    # child under its own tag): the server, the Erlang runtime and the OTP applications its
    # Depends name (with eunit and parsetools, which one suite or the other asks for). Its
    # launcher and Erlang's erl are shell scripts: busybox's sh runs them, with the commands they
    # call (readlink, dirname, basename, expr, date; df for the free disk monitor).
    "rabbitmq": {
        "repository": "appstore/rabbitmq",
        "version_of": "rabbitmq-server",
        "takes": (["rabbitmq-server:usr/lib/rabbitmq/",
                   "erlang-base:usr/lib/erlang/,usr/bin/erl,usr/bin/epmd:lib,zlib1g",
                   "erlang-asn1:usr/lib/erlang/lib/:libc6", "erlang-crypto:usr/lib/erlang/lib/:libc6,libssl",
                   "erlang-os-mon:usr/lib/erlang/lib/:libc6", "erlang-runtime-tools:usr/lib/erlang/lib/:libc6"]
                  + ["erlang-%s:usr/lib/erlang/lib/" % app for app in RABBITMQ_OTP_APPS]
                  + ["busybox-static:usr/bin/busybox"]),
        "links": dict(("usr/bin/" + applet, "busybox")
                      for applet in ("sh", "basename", "date", "df", "dirname", "expr", "readlink")),
        # The node is rabbit@localhost: Erlang resolves localhost through /etc/hosts (Kubernetes
        # writes its own over it; a bare container runtime does not).
        "files": {"etc/hosts": "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n"},
        "dirs": ["tmp:1777", "var/lib/rabbitmq:1777", "var/log/rabbitmq:1777"],
        # Logs to the container's output; the cookie and the database under /var/lib/rabbitmq.
        "env": ["HOME=/var/lib/rabbitmq", "RABBITMQ_MNESIA_BASE=/var/lib/rabbitmq/mnesia", "RABBITMQ_LOGS=-",
                "RABBITMQ_NODENAME=rabbit@localhost"],
        "workdir": "/var/lib/rabbitmq",
        # sh named first: the program an image's entrypoint names is machine code of its
        # architecture (the publisher's check of a true child), not a script.
        "entrypoint": ["/usr/bin/sh", "/usr/lib/rabbitmq/bin/rabbitmq-server"],
        "expose": ["5672/tcp"],
        # The emulator's version (+V stops before BEAM's JIT starts: it crashes under qemu-user),
        # and the server's version by its directory.
        "version_args": ["/bin/sh", "-c", "erl +V && echo /usr/lib/rabbitmq/lib/rabbitmq_server-*"],
    },
    # fio with every engine Debian links, for measuring the storage layer (bench/storage.py:
    # local-storage beside nfs-lab on one node).
    "fio": {
        "repository": "xinchuang/fio",
        "version_of": "fio",
        "takes": ["fio:usr/bin/fio:lib"],
        "dirs": ["tmp:1777"],
        "entrypoint": ["/usr/bin/fio"],
        "version_args": ["--version"],
    },
}


def debian_upstream(debian_version):
    """The upstream part of a Debian version as the program prints it: no epoch (``1:``), no
    Debian revision (after the last ``-``), no repack suffix (``+dfsg``, ``+ds``, ``+b1``).
    ``1:1.6.7~rc0-1+b13`` -> ``1.6.7~rc0``."""
    version = debian_version.split(":", 1)[-1]
    if "-" in version:
        version = version.rsplit("-", 1)[0]
    return version.split("+", 1)[0]


def upstream_version(debian_version):
    """The upstream part of a Debian version (debian_upstream), as an image tag: ``~`` (not
    allowed in a tag) becomes ``-``. ``1:1.22.1-9+deb12u2`` -> ``1.22.1``."""
    version = debian_upstream(debian_version).replace("~", "-")
    if not version or not version[0].isalnum():
        raise ValueError("Debian version %r has no upstream version to tag an image with" % debian_version)
    return version


def recipe_of(repository):
    """The name of the recipe that builds the image ``repository`` (a path in the registry,
    e.g. ``appstore/nginx``), or None when no recipe builds it."""
    for name in sorted(APPS):
        if APPS[name]["repository"] == repository:
            return name
    return None


def built_repositories():
    """The repositories the recipes build, sorted."""
    return sorted(spec["repository"] for spec in APPS.values())


def families_of(name):
    """The families recipe ``name`` builds a child for, in FAMILIES' order."""
    wanted = APPS[name].get("families", FAMILIES)
    return [f for f in FAMILIES if f in wanted]


def _fill(value, values):
    if isinstance(value, str):
        for key, text in values.items():
            value = value.replace("{%s}" % key, text)
        return value
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    if isinstance(value, dict):
        return dict((_fill(k, values), _fill(v, values)) for k, v in value.items())
    return value


def _suite_values(name, suite):
    suites = APPS[name].get("suites")
    if not suites:
        return {}
    if suite not in suites:
        raise ValueError("recipe %s has no values for Debian %s (it has %s): add that suite's major and libraries "
                         "to its suites in plugins/module_utils/images/app_images.py" % (name, suite, ", ".join(sorted(suites))))
    return suites[suite]


def recipe(name, suite=bundle_policy.DEFAULT_DEBIAN_SUITE, deb_arch=None):
    """Recipe ``name`` as it builds the child of Debian ``suite`` (default: bookworm, whose
    versions tag the catalogue's images) for Debian architecture ``deb_arch``: its ``{name}``
    fields filled in with the suite's values when the recipe has ``suites``, and ``{deb_arch}``
    with ``deb_arch`` (the JRE's directory is named after it). A suite it has no values for, or
    a recipe that names the architecture asked without one, is refused, with the fix."""
    spec = APPS[name]
    values = dict(_suite_values(name, suite), **({"deb_arch": deb_arch} if deb_arch else {}))
    filled = dict((k, _fill(v, values)) for k, v in spec.items() if k != "suites") if values else spec
    if not deb_arch and "{deb_arch}" in repr(filled):
        raise ValueError("recipe %s names the Debian architecture ({deb_arch}): ask for it with deb_arch "
                         "(amd64, arm64, loong64, mips64el)" % name)
    return filled


def provides(name, path, suite=bundle_policy.DEFAULT_DEBIAN_SUITE, deb_arch=None):
    """Whether the image of recipe ``name`` (its child of ``suite`` for ``deb_arch``) has the
    file ``path`` (absolute; /bin is /usr/bin, merged /usr): a file or a link the project adds,
    or a file one of its takes asks for (the rule builder.debian_tree gathers the files by)."""
    spec, path = recipe(name, suite, deb_arch), debian_closure.merged_path(path)
    links = spec.get("links", {})
    seen = set()
    while path in links and path not in seen:  # a link provides the file only if its target is there
        seen.add(path)
        target = links[path]
        path = debian_closure.merged_path(target if target.startswith("/") else
                                          posixpath.normpath(posixpath.join(posixpath.dirname(path), target)))
    if path in spec.get("files", {}):
        return True
    return any(debian_closure.wanted(path, debian_closure.parse_take(take)) for take in spec["takes"])


def main_package(name, suite=bundle_policy.DEFAULT_DEBIAN_SUITE):
    """The Debian package recipe ``name`` builds its child of ``suite`` from (its version tags
    the image)."""
    return _fill(APPS[name]["version_of"], _suite_values(name, suite))
