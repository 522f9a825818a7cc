"""Print the applets of a busybox binary of any architecture, one a line, without running it
(plugins/module_utils/images/busybox_applets.py, which the image builder calls).

    PYTHONPATH=$XC_ROOT/.collections python3 hack/images/busybox_applets.py path/to/busybox
"""

import sys

from ansible_collections.xinchuang.cloud.plugins.module_utils.images.busybox_applets import applets


def main(argv):
    if len(argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    with open(argv[1], "rb") as fh:
        data = fh.read()
    try:
        names = applets(data)
    except ValueError as exc:
        sys.stderr.write("%s: %s\n" % (argv[1], exc))
        return 1
    sys.stdout.write("".join(name + "\n" for name in names))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
