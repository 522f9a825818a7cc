"""Whether a run's output shows a secret, in any form an operator would see it.

A secret leaks as itself or base64-encoded (a Kubernetes Secret's data, a kubeconfig's
client-key-data, an HTTP basic-auth header), so both forms are searched. Every leak test of the
project asks here: the e2e runs (tests/e2e/lab.py, every playbook the e2e runs), and the role
tests whose roles take secrets no lab run holds (Ceph keys, database passwords).
"""

import base64

MIN_LENGTH = 8  # a shorter value (a port, "true") would be found anywhere


def forms(value):
    """The forms VALUE is searched in: itself and its base64 (with padding)."""
    return (value, base64.b64encode(value.encode()).decode())


def leaks(output, secrets):
    """The names of SECRETS ({name: value}) found in OUTPUT, plain or base64, sorted. A value
    shorter than MIN_LENGTH is a test's mistake, not a pass."""
    found = set()
    for name, value in secrets.items():
        assert len(value) >= MIN_LENGTH, "secret %s is too short to be searched for (%r)" % (name, value)
        if any(form in output for form in forms(value)):
            found.add(name)
    return sorted(found)
