"""Prints, per role of infra/template.yaml, the actions granted but never used by the end-to-end tests.

The IAM check of the tests (tests/src/iam.rs) writes, for each function it ran as the template deploys it,
<key>.grants.json beside the recorded calls: the role, its statements' (Sid, action) pairs and the pairs the
calls were allowed by. A granted action is used when some call of any test was allowed by that statement with an
action it matches (actions are case-insensitive globs). Statements Lambda uses on the function's behalf (Logs,
RecordFailedInvocations) are left out. Usage: python unused_grants.py <calls dir>
"""

from __future__ import annotations

import fnmatch
import json
import pathlib
import sys

PLATFORM_STATEMENTS = {"Logs", "RecordFailedInvocations"}


def main(directory: str) -> int:
    granted: dict[str, set[tuple[str, str]]] = {}
    used: dict[str, set[tuple[str, str]]] = {}
    for path in sorted(pathlib.Path(directory).glob("*.grants.json")):
        summary = json.loads(path.read_text(encoding="utf-8"))
        role = summary["role"]
        granted.setdefault(role, set()).update(tuple(g) for g in summary["granted"])
        used.setdefault(role, set()).update(tuple(u) for u in summary["used"])
    if not granted:
        print("no IAM check ran (no *.grants.json in %s)" % directory)
        return 1
    for role in sorted(granted):
        unused = sorted(
            (sid, action)
            for sid, action in granted[role]
            if sid not in PLATFORM_STATEMENTS
            and not any(
                s == sid and fnmatch.fnmatchcase(a.lower(), action.lower()) for s, a in used.get(role, ())
            )
        )
        checked = len(used.get(role, ()))
        if unused:
            listed = ", ".join(f"{action} ({sid})" for sid, action in unused)
            print(f"{role}: {checked} permissions used; granted, never used: {listed}")
        else:
            print(f"{role}: {checked} permissions used; every grant used")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
