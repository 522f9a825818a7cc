"""The N slowest test cases of the JUnit reports given (hack/test.sh prints them at a run's end).

Usage: python3 hack/slowest.py N REPORT.xml...   (a report a stopped stage never wrote is named, not fatal)
"""

import os
import sys
import xml.etree.ElementTree as ET


def slowest(count, paths):
    cases, missing = [], []
    for path in paths:
        if not os.path.exists(path):
            missing.append(path)
            continue
        stage = os.path.splitext(os.path.basename(path))[0]
        for case in ET.parse(path).getroot().iter("testcase"):
            name = "%s::%s" % (case.get("classname", ""), case.get("name", ""))
            cases.append((float(case.get("time") or 0), stage, name))
    cases.sort(reverse=True)
    return cases[:count], missing


def main(argv):
    if len(argv) < 2 or not argv[0].isdigit():
        sys.exit(__doc__.strip())
    cases, missing = slowest(int(argv[0]), argv[1:])
    for seconds, stage, name in cases:
        print("%8.1fs  %-12s %s" % (seconds, stage, name))
    if not cases:
        print("(no JUnit report: no pytest stage ran to its end)")
    for path in missing:
        print("(no report %s: the stage did not end)" % path)


if __name__ == "__main__":
    main(sys.argv[1:])
