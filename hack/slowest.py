"""What a test run's end prints (hack/test.sh): the N slowest test cases, and what failed.

Usage: python3 hack/slowest.py N REPORT.xml...          the N slowest cases of the JUnit reports
       python3 hack/slowest.py --failed N REPORT.xml... each failed case (at most N), one line
                                                       each: stage, test id, the first line of
                                                       its message
A report a stopped stage never wrote is named, not fatal. CI shows only the last lines of a
run, so the failures are printed last, one line per test.
"""

import os
import sys
import xml.etree.ElementTree as ET

WIDTH = 220  # characters of a failure's line


def cases(paths):
    """[(seconds, stage, test id, failure message or None)] of the reports; the missing ones."""
    found, missing = [], []
    for path in paths:
        if not os.path.exists(path):
            missing.append(path)
            continue
        stage = os.path.splitext(os.path.basename(path))[0]
        for case in ET.parse(path).getroot().iter("testcase"):
            name = "%s::%s" % (case.get("classname", ""), case.get("name", ""))
            problem = case.find("failure")
            if problem is None:
                problem = case.find("error")
            message = None
            if problem is not None:
                text = problem.get("message") or problem.text or problem.tag
                message = (text.strip().splitlines() or [problem.tag])[0]
            found.append((float(case.get("time") or 0), stage, name, message))
    return found, missing


def slowest(count, paths):
    found, missing = cases(paths)
    found.sort(key=lambda c: c[0], reverse=True)
    return [c[:3] for c in found[:count]], missing


def failed(count, paths):
    found, _missing = cases(paths)
    bad = [c for c in found if c[3] is not None]
    return [(stage, name, message) for _t, stage, name, message in bad[:count]], len(bad)


def main(argv):
    if argv[:1] == ["--failed"] and len(argv) >= 2 and argv[1].isdigit():
        shown, total = failed(int(argv[1]), argv[2:])
        for stage, name, message in shown:
            print(("%-12s %s: %s" % (stage, name, message))[:WIDTH])
        if total > len(shown):
            print("... and %d more failed tests (the JUnit reports: %s)" % (total - len(shown), " ".join(argv[2:])))
        return
    if len(argv) < 2 or not argv[0].isdigit():
        sys.exit(__doc__.strip())
    found, missing = slowest(int(argv[0]), argv[1:])
    for seconds, stage, name in found:
        print("%8.1fs  %-12s %s" % (seconds, stage, name))
    if not found:
        print("(no JUnit report: no pytest stage ran to its end)")
    for path in missing:
        print("(no report %s: the stage did not end)" % path)


if __name__ == "__main__":
    main(sys.argv[1:])
