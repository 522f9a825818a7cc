"""The offline bundle holds, for each GOARCH, programs of that machine only (ELF e_machine,
tests/proof/elf.py): binfmt_misc runs any architecture here, so a wrong binary would run in
every test and fail only on a real host of that architecture.

The bundle is the one ``hack/bundle.sh`` lays out (docs/bundle.md); it is asked with
XC_BUNDLE_BUILD=0, so no cold build runs inside this test (``make test`` builds it in the
binaries stage) and a missing binary fails naming itself.
"""

import os
import shutil

import pytest

from tests.integration.fixtures_containerd import run_bundle_sh
from tests.proof import elf

pytestmark = pytest.mark.slow

DEFAULT_GOARCHES = ("amd64", "arm64", "loong64", "mips64le")  # hack/bundle.sh's default
PROGRAM_DIRS = ("bin", "cni")
# Files of bin/ and cni/ that are not programs, each with why. None today: every file there is
# a Go program or Debian's runc. A wrapper script added to the bundle must be named here.
NOT_PROGRAMS = {}


def bundle_machine_problems(version_dir):
    """Every file of <version>/<goarch>/{bin,cni} that is not a program of its GOARCH."""
    problems = []
    for goarch in sorted(os.listdir(version_dir)):
        for sub in PROGRAM_DIRS:
            folder = os.path.join(version_dir, goarch, sub)
            if not os.path.isdir(folder):
                continue
            for name in sorted(os.listdir(folder)):
                rel = "%s/%s/%s" % (goarch, sub, name)
                if "%s/%s" % (sub, name) in NOT_PROGRAMS:
                    continue
                with open(os.path.join(folder, name), "rb") as fh:
                    why = elf.machine_mismatch(fh.read(elf.HEADER_SIZE), goarch, rel)
                if why:
                    problems.append(why)
    return problems


@pytest.fixture(scope="module")
def version_dir():
    env = dict(os.environ, XC_BUNDLE_BUILD="0")
    proc = run_bundle_sh([], env, timeout=900)
    if proc.returncode != 0:
        pytest.fail("the bundle is not complete (hack/bundle.sh with XC_BUNDLE_BUILD=0, exit %d); "
                    "build it with hack/bundle.sh:\n%s" % (proc.returncode, proc.stderr[-3000:]),
                    pytrace=False)
    return proc.stdout.strip().splitlines()[-1]


def test_every_goarch_of_the_bundle_is_there_with_programs(version_dir):
    for goarch in DEFAULT_GOARCHES:
        for sub in PROGRAM_DIRS:
            folder = os.path.join(version_dir, goarch, sub)
            assert os.path.isdir(folder) and os.listdir(folder), "%s is missing or empty" % folder


def test_every_file_is_a_program_of_its_goarch(version_dir):
    assert bundle_machine_problems(version_dir) == []


def test_a_program_of_another_goarch_in_the_bundle_is_named(version_dir, tmp_path):
    """Seed arm64's bridge as amd64's, and a script, into a copy: both are named."""
    fake = tmp_path / os.path.basename(version_dir)
    for goarch in ("amd64", "arm64"):
        (fake / goarch / "cni").mkdir(parents=True)
    shutil.copy(os.path.join(version_dir, "arm64", "cni", "bridge"), str(fake / "arm64" / "cni"))
    shutil.copy(os.path.join(version_dir, "arm64", "cni", "bridge"), str(fake / "amd64" / "cni"))
    shutil.copy(os.path.join(version_dir, "amd64", "cni", "loopback"), str(fake / "amd64" / "cni"))
    (fake / "amd64" / "bin").mkdir()
    (fake / "amd64" / "bin" / "kubelet-wrapper").write_text("#!/bin/sh\nexec kubelet \"$@\"\n")
    problems = bundle_machine_problems(str(fake))
    assert problems[0] == "amd64/bin/kubelet-wrapper is not an ELF file (starts with b'#!/b'), " \
                          "not a program of amd64"
    assert problems[1:] == ["amd64/cni/bridge is a program of arm64 (ELF machine), not of amd64"]
