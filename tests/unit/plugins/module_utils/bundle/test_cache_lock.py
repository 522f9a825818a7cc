"""bundle_build.exclusive: one writer of a cache folder at a time on this machine (the Go builds,
the Debian package and source fetches). Two processes, a real flock: the second waits for the
first and is told it waited."""

import multiprocessing
import os
import time

from ansible_collections.xinchuang.cloud.plugins.module_utils.bundle import build as bundle_build


def hold(lock_path, held, release):
    with bundle_build.exclusive(lock_path, log=lambda message: None):
        held.set()
        release.wait(30)


def test_a_second_holder_waits_for_the_first_and_says_it_waited(tmp_path):
    lock_path = str(tmp_path / "cache" / "debian-packages" / ".lock")
    held, release = multiprocessing.Event(), multiprocessing.Event()
    first = multiprocessing.Process(target=hold, args=(lock_path, held, release))
    first.start()
    try:
        assert held.wait(30)
        said, entered = [], []
        released_at = time.time() + 0.5

        def release_later(message):
            said.append(message)
            time.sleep(max(0.0, released_at - time.time()))
            release.set()

        with bundle_build.exclusive(lock_path, log=release_later, waiting="waiting for the other") as waited:
            entered.append(time.time())
        assert waited is True and said == ["waiting for the other"]
        assert entered[0] >= released_at
    finally:
        release.set()
        first.join(30)


def test_a_free_lock_is_taken_at_once_and_its_folder_made(tmp_path):
    lock_path = str(tmp_path / "new" / ".lock")
    said = []
    with bundle_build.exclusive(lock_path, log=said.append) as waited:
        assert waited is False and os.path.isfile(lock_path)
    assert said == []
    with bundle_build.exclusive(lock_path, log=said.append) as waited:
        assert waited is False
