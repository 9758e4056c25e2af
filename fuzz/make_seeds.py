#!/usr/bin/env python3
"""Builds the fuzz seed corpora from the conformance corpus.

Reads tests/data/eventbridge-patterns.jsonl (and sns-filter-policies.jsonl for the
policy parser) and writes one file per distinct input into
fuzz/seeds/<target>/:

- pattern_parse/  every pattern text, and every SNS filter policy text
- event_match/    every event text (and SNS messages, which the target also feeds
                  to its filter policies)
- differential/   "<pattern>\n<event>" for every case; cases whose pattern spans
                  several lines are skipped (the target splits on the first newline)

Texts are taken verbatim from the corpus lines (numbers keep their spelling:
300.0, 3e2, 1e400 ...); with "raw": true the JSON string's content is the text.
Texts longer than MAX_LEN bytes (the -max_len the runs use) are skipped: libFuzzer
would only truncate them. Re-running replaces the seed directories.
Usage: python3 fuzz/make_seeds.py
"""

import hashlib
import json
import pathlib
import shutil

FUZZ = pathlib.Path(__file__).resolve().parent
DATA = FUZZ.parent / "tests" / "data"
DECODER = json.JSONDecoder()
MAX_LEN = 4096


def raw_members(line):
    """Top-level members of a JSON object line as {key: raw value text}."""
    members = {}
    i = line.index("{") + 1
    while True:
        while line[i] in " \t\r\n,":
            i += 1
        if line[i] == "}":
            return members
        key, i = DECODER.raw_decode(line, i)
        while line[i] in " \t\r\n":
            i += 1
        assert line[i] == ":", line
        i += 1
        while line[i] in " \t\r\n":
            i += 1
        start = i
        _, i = DECODER.raw_decode(line, i)
        members[key] = line[start:i]


def text_of(members, key, raw):
    value = members.get(key)
    if value is None:
        return None
    if raw:
        decoded = json.loads(value)
        if isinstance(decoded, str):
            return decoded
    return value


def cases(name, pattern_key, event_key):
    for line in (DATA / name).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        members = raw_members(line)
        raw = json.loads(members.get("raw", "false")) is True
        case_id = json.loads(members.get("id", '""'))
        yield case_id, text_of(members, pattern_key, raw), text_of(members, event_key, raw)


def write(target, name, text, seen):
    data = text.encode("utf-8")
    if len(data) > MAX_LEN:
        return
    digest = hashlib.sha1(data).hexdigest()[:12]
    if digest in seen[target]:
        return
    seen[target].add(digest)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:60]
    (FUZZ / "seeds" / target / f"{safe}-{digest}").write_bytes(data)


def main():
    targets = ["pattern_parse", "event_match", "differential"]
    for target in targets:
        shutil.rmtree(FUZZ / "seeds" / target, ignore_errors=True)
        (FUZZ / "seeds" / target).mkdir(parents=True)
    seen = {t: set() for t in targets}

    for case_id, pattern, event in cases("eventbridge-patterns.jsonl", "pattern", "event"):
        if pattern is not None:
            write("pattern_parse", case_id, pattern, seen)
        if event is not None:
            write("event_match", case_id, event, seen)
        if pattern is not None and event is not None and "\n" not in pattern:
            write("differential", case_id, pattern + "\n" + event, seen)

    for case_id, policy, message in cases("sns-filter-policies.jsonl", "policy", "message"):
        if policy is not None:
            write("pattern_parse", "sns-" + case_id, policy, seen)
        if message is not None:
            write("event_match", "sns-" + case_id, message, seen)

    for target in targets:
        print(f"{target}: {len(seen[target])} seeds")


if __name__ == "__main__":
    main()
