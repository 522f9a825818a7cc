"""Stand-in for the get-pip.py that ansible-test downloads from a host unreachable here.

ansible-test runs it in an empty venv with pip's install options, e.g.
``--disable-pip-version-check pip==24.2 --no-setuptools --no-wheel``: bootstrap the pip
that ships with Python (ensurepip), then install the requested packages from PyPI.
"""

import ensurepip
import os
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
# ansible-test runs this with a reduced environment: keep the machine's CA bundle, which a
# TLS-inspecting proxy in front of PyPI may need.
for cafile in (os.environ.get("PIP_CERT"), "/etc/ssl/certs/ca-certificates.crt"):
    if cafile and os.path.exists(cafile):
        args = ["--cert", cafile] + args
        break
ensurepip.bootstrap()
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", "-q"] + args))
