#!/usr/bin/env python3
"""The reference for watchfloor's benchmarks: what an analyst would write instead.

feedparser to read the feeds, `re` for the rules, sqlite3 to keep items and hits. It is run by
bench/suite.sh beside `watchfloor bench match` and `watchfloor bench ingest`, on the same items
and the same replicated corpus, so that the ratios mean something.

    reference.py match  --items-file ITEMS.jsonl [--items N] [--seconds S] [--generated 200]
    reference.py ingest [--corpus DIR] [--megabytes 50]
    reference.py check  (the examples of indicators.yaml; needs PyYAML)

The four shipped indicators are compiled by hand, one Python function per query, from the
lists of indicators.yaml (read from the file, so the term lists are the shipped ones):

- a term is a regex: `word` is `\\bword\\b`, `word*` is `\\bword\\w*`, and the words of a
  phrase are joined by `\\W+` (so a hyphen or an apostrophe is a space, as in watchfloor);
  one lone Han character (北, 露) needs no word boundary, since Han text has no spaces;
- each list is one compiled alternation, searched at most once per item (results cached);
- AND, OR and NOT are Python's `and`, `or` and `not`; a boost adds its weight when it matches;
  the hit needs the query and a score of at least min_score, as in watchfloor;
- `A NEAR/n B`: the matches of A and of B are mapped to word numbers (`\\w+` runs) and some
  pair must be at most n words apart;
- the two `/regex/` boosts are used as written.

Simplifications (each makes the reference do less work than watchfloor, not more):
- text is folded with NFKC, lowercase and ё→е; no accent folding (é is not e);
- matching sees title and summary only (watchfloor also reads content, author, category and
  link), joined by a line break, so a NEAR can straddle the two;
- JSON Feed, which feedparser 6.0 cannot read, goes through `json` (title, summary or
  content, url, id, date_published);
- the summary's HTML is stripped with one regex and html.unescape;
- no evidence (which words matched, where) is kept, only the indicator and the score;
- the store is two tables, items (UNIQUE (feed, key)) and hits (UNIQUE (item, indicator)),
  one transaction per feed document, WAL with synchronous=NORMAL as watchfloor has; no feed
  health, no outbox, no full-text index.
"""

import argparse
import bisect
import hashlib
import html
import json
import os
import re
import resource
import sqlite3
import sys
import tempfile
import time
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))


def fold(text):
    return unicodedata.normalize("NFKC", text).lower().replace("ё", "е")


def term_regex(term):
    term = fold(term.strip())
    if len(term) == 1 and unicodedata.name(term, "").startswith("CJK UNIFIED"):
        return re.escape(term)
    words = [w for w in re.split(r"[\s\-]+", term) if w]
    parts = []
    for word in words:
        if word.endswith("*"):
            parts.append(re.escape(word[:-1]) + r"\w*")
        else:
            parts.append(re.escape(word) + r"\b")
    return r"\W+".join(parts)


class Pattern:
    """A list of terms, compiled into one alternation."""

    count = 0

    def __init__(self, terms):
        Pattern.count += 1
        self.id = Pattern.count
        alternatives = sorted({term_regex(t) for t in terms}, key=len, reverse=True)
        # One word boundary in front of the whole alternation (a lone Han character has its
        # own alternation, without one).
        han = [a for a in alternatives if len(a) == 1 and not a.isascii()]
        words = [a for a in alternatives if a not in han]
        regex = r"\b(?:" + "|".join(words) + ")" if words else ""
        self.regex = re.compile("|".join([regex] + han) if han else regex)


class Raw(Pattern):
    """A `/regex/` of the rules file, used as written."""

    def __init__(self, regex):
        Pattern.count += 1
        self.id = Pattern.count
        self.regex = re.compile(regex)


def read_lists(path):
    """The `lists:` of indicators.yaml: flow sequences, `name: [a, b, ...]`."""
    text = open(path, encoding="utf-8").read()
    section = text.split("\nlists:", 1)[1].split("\nindicators:", 1)[0]
    section = re.sub(r"#[^\n]*", "", section)
    lists = {}
    for name, body in re.findall(r"(\w+):\s*\[(.*?)\]", section, re.S):
        lists[name] = Pattern([t for t in body.split(",") if t.strip()])
    return lists


class Item:
    """One item's folded text, with per-item caches of searches and word numbers."""

    __slots__ = ("text", "title", "found", "words_at", "spans_of")

    def __init__(self, title, summary):
        self.title = fold(title)
        self.text = self.title + "\n" + fold(summary)
        self.found = {}
        self.words_at = None
        self.spans_of = {}

    def has(self, pattern):
        hit = self.found.get(pattern.id)
        if hit is None:
            hit = self.found[pattern.id] = pattern.regex.search(self.text) is not None
        return hit

    def in_title(self, pattern):
        return pattern.regex.search(self.title) is not None

    def spans(self, pattern):
        spans = self.spans_of.get(pattern.id)
        if spans is None:
            if self.words_at is None:
                self.words_at = [m.start() for m in re.finditer(r"\w+", self.text)]
            at = self.words_at
            spans = self.spans_of[pattern.id] = [
                (bisect.bisect_right(at, m.start()) - 1, bisect.bisect_right(at, m.end() - 1) - 1)
                for m in pattern.regex.finditer(self.text)
            ]
        return spans

    def near(self, left, right, n):
        """Some match of a left pattern within n words of some match of a right one."""
        lefts = [s for p in left for s in self.spans(p)] if self.any(left) else []
        if not lefts or not self.any(right):
            return False
        for p in right:
            for b0, b1 in self.spans(p):
                for a0, a1 in lefts:
                    if max(b0 - a1, a0 - b1, 0) <= n:
                        return True
        return False

    def any(self, patterns):
        return any(self.has(p) for p in patterns)


class Indicator:
    def __init__(self, name, query, boosts, min_score):
        self.name, self.query, self.boosts, self.min_score = name, query, boosts, min_score

    def score(self, item):
        if not self.query(item):
            return None
        score = 1.0 + sum(w for q, w in self.boosts if q(item))
        return score if score >= self.min_score else None


def shipped_indicators(L):
    """The four indicators of indicators.yaml, by hand."""
    sat_words = Pattern(["launch*", "satellite*", "rocket*", "발사*", "위성*", "로켓*",
                         "запуст*", "спутник*", "ракет*"])
    sk_launch = Pattern(["launch", "launches", "launched", "발사*"])
    hogi = Raw(r"\d+호기")
    lethal = Raw(r"(?i)(^|[^\w-])lethal([^\w]|$)")
    ru_places = (L["russia"], L["russia_places"])
    ru_routes = (L["russia"], L["transfer_routes"])
    return [
        Indicator(
            "satellite_launch",
            lambda i: (i.has(L["dprk"]) or i.has(L["nk_space"])) and i.has(L["sat_object"])
            and (i.has(L["launch_verb"]) or (i.has(L["russia"]) and i.has(L["help"]))),
            [
                (lambda i: i.in_title(L["sat_object"]), 0.5),
                (lambda i: i.has(L["nk_space"]), 0.5),
                (lambda i: i.has(L["missile_test"]), -0.5),
                (lambda i: i.has(L["imagery"]), -1.0),
                (lambda i: i.has(L["foreign_launch"]), -1.0),
                (lambda i: i.near([L["other_spacefarers"]], [sat_words], 2)
                 or i.near([L["south_korea"]], [sk_launch], 1), -1.0),
                (lambda i: i.has(hogi), -1.0),
            ],
            1.0,
        ),
        Indicator(
            "labor_export",
            lambda i: i.has(L["dprk"]) and i.has(L["workers"]) and i.any(ru_places),
            [
                (lambda i: i.has(L["worker_lookalikes"])
                 and not i.has(L["workers_unambiguous"]), -1.0),
                (lambda i: i.has(L["china"])
                 and not i.near([L["workers"]], ru_places, 8), -1.0),
            ],
            1.0,
        ),
        Indicator(
            "seoul_ukraine_support",
            lambda i: i.has(L["south_korea"]) and i.has(L["ukraine"]) and i.has(L["arms"]),
            [
                (lambda i: i.near([L["arms"]], [L["ukraine"]], 6), 0.5),
                (lambda i: i.has(L["arms_decision"]) or i.has(lethal), 0.5),
                (lambda i: i.has(L["non_lethal"]), -0.5),
                (lambda i: i.has(L["intel_reports"]), -0.5),
                (lambda i: i.near([L["dprk"]], [L["arms"]], 4), -0.5),
                (lambda i: i.has(L["arms_customers"]), -0.5),
            ],
            1.5,
        ),
        Indicator(
            "energy_food_flows",
            lambda i: i.has(L["dprk"]) and i.any(ru_routes) and i.has(L["energy_food"]),
            [
                (lambda i: i.near([L["energy_food"]], ru_routes, 6), 0.5),
                (lambda i: i.has(L["fuel_lookalikes"])
                 and not i.has(L["energy_unambiguous"]), -1.0),
                (lambda i: i.has(L["china"])
                 and not i.near([L["energy_food"]], ru_routes, 6), -1.0),
            ],
            1.0,
        ),
    ]


# The words `watchfloor bench match` narrows its generated variants with (src/cli/bench.rs).
NARROWING = """said officials week report* talks deal agency minister* sanction* border port* train*
ship* rocket* space engine* construction wage* visa* aid shell* artillery drone* fuel rice wheat
정부* 발표* 위성* 노동자* 무기* 석유* 제재* 사업* сообщ* заяв* спутник* рабоч* оруж* нефт* санкц*
поставк*""".split()


def generated_indicators(originals, count):
    """As watchfloor's generated set: variant n of original o is
    ((o.query) AND narrowing-word) OR (marker<k> NEAR/3 signal<k>*), with o's boosts."""
    out = []
    for n in range(count):
        o, k = originals[n % len(originals)], n // len(originals)
        word = Pattern([NARROWING[n % len(NARROWING)]])
        marker, signal = Pattern([f"marker{k}"]), Pattern([f"signal{k}*"])

        def query(i, o=o, word=word, marker=marker, signal=signal):
            return (o.query(i) and i.has(word)) or i.near([marker], [signal], 3)

        out.append(Indicator(f"{o.name}_v{k}", query, o.boosts, o.min_score))
    return out


def match_item(indicators, title, summary):
    item = Item(title, summary)
    return [(ind.name, s) for ind in indicators if (s := ind.score(item)) is not None]


def bench_match(args):
    lists = read_lists(args.indicators)
    shipped = shipped_indicators(lists)
    patterns = {id(shipped): Pattern.count}
    generated = generated_indicators(shipped, args.generated)
    patterns[id(generated)] = Pattern.count
    with open(args.items_file, encoding="utf-8") as f:
        items = [(d["title"], d["summary"]) for d in map(json.loads, f)]
    sizes = [len(t.encode()) + len(s.encode()) for t, s in items]
    print(f"match throughput (Python reference, re): 1 thread, up to {args.items} items of "
          f"{sum(sizes) / len(sizes):.0f} bytes on average, at most {args.seconds:g} s a run")
    print(f"{'indicators':>10} {'patterns':>9} {'seconds':>9} {'items/s':>12} {'MB/s':>8} "
          f"{'hits/item':>10} {'CPU s':>7}")
    for indicators in (shipped, generated):
        for title, summary in items[:200]:
            match_item(indicators, title, summary)
        hits = nbytes = n = 0
        started, cpu_started = time.perf_counter(), time.process_time()
        # The clock is read every 100 items: the slow set would otherwise take minutes.
        while n < args.items and (n % 100 or time.perf_counter() - started < args.seconds):
            title, summary = items[n % len(items)]
            hits += len(match_item(indicators, title, summary))
            nbytes += sizes[n % len(items)]
            n += 1
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        print(f"{len(indicators):>10} {patterns[id(indicators)]:>9} {seconds:>9.3f} "
              f"{n / seconds:>12.0f} {nbytes / seconds / 1e6:>8.3f} {hits / n:>10.3f} "
              f"{cpu:>7.2f}")


def rehost(data, k):
    """As watchfloor's bench ingest: copy k's URLs get hosts of their own (`://c<k>.host`),
    except namespace declarations and format identifiers."""
    prefix = f"c{k}.".encode()

    def one(m):
        before = data[max(0, m.start() - 80):m.start()]
        attribute = re.split(rb"[\s<{,]", before)[-1]
        if (attribute.startswith(b"xmlns") or attribute.startswith(b'"version"')
                or data.startswith(b"jsonfeed.org/version", m.end())):
            return m.group(0)
        return m.group(0) + prefix

    return re.sub(rb":(?://|\\/\\/)", one, data)


TAG = re.compile(r"<[^>]*>")
SCHEMA = """
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE feeds (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE items (
  id INTEGER PRIMARY KEY, feed_id INTEGER NOT NULL REFERENCES feeds, key TEXT NOT NULL,
  link TEXT, title TEXT, summary TEXT, published TEXT, seen_at REAL,
  UNIQUE (feed_id, key));
CREATE TABLE hits (
  id INTEGER PRIMARY KEY, item_id INTEGER NOT NULL REFERENCES items, indicator TEXT NOT NULL,
  score REAL, created_at REAL, UNIQUE (item_id, indicator));
"""


def json_feed_entries(data):
    """JSON Feed, which feedparser 6.0 does not read: its items as feedparser-like dicts."""
    try:
        feed = json.loads(data)
    except ValueError:
        return None
    return [{"title": i.get("title", ""),
             "summary": i.get("summary") or i.get("content_html") or i.get("content_text", ""),
             "link": i.get("url"), "id": i.get("id"), "published": i.get("date_published")}
            for i in feed.get("items", [])]


def ingest_document(db, indicators, feed_id, data):
    """Parse, match and store one feed document; returns (items, new, hits), or None."""
    if data.lstrip()[:1] == b"{":
        entries = json_feed_entries(data)
        if entries is None:
            return None
    else:
        feed = feedparser.parse(data)
        if feed.bozo and not feed.entries and not feed.version:
            return None
        entries = feed.entries
    items = new = hits = 0
    now = time.time()
    with db:
        for e in entries:
            items += 1
            title = html.unescape(TAG.sub(" ", e.get("title", "")))
            summary = html.unescape(TAG.sub(" ", e.get("summary", "")))
            link = e.get("link")
            key = e.get("id") or link or hashlib.sha256(
                (title + "\n" + summary).encode()).hexdigest()
            cur = db.execute(
                "INSERT OR IGNORE INTO items (feed_id, key, link, title, summary, published,"
                " seen_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (feed_id, key, link, title, summary, e.get("published"), now))
            if cur.rowcount == 0:
                continue
            new += 1
            for name, score in match_item(indicators, title, summary):
                db.execute("INSERT OR IGNORE INTO hits (item_id, indicator, score, created_at)"
                           " VALUES (?, ?, ?, ?)", (cur.lastrowid, name, score, now))
                hits += 1
    return items, new, hits


def bench_ingest(args):
    indicators = shipped_indicators(read_lists(args.indicators))
    names = sorted(n for n in os.listdir(args.corpus) if n.endswith((".xml", ".json")))
    files = [(n, open(os.path.join(args.corpus, n), "rb").read()) for n in names]
    size = sum(len(b) for _, b in files)
    copies = -(-args.megabytes * 1_000_000 // size)
    documents = [(f"c{k}-{n}", rehost(b, k)) for k in range(copies) for n, b in files]
    total = sum(len(b) for _, b in documents)
    with tempfile.TemporaryDirectory() as tmp:
        db = sqlite3.connect(os.path.join(tmp, "reference.db"))
        db.executescript(SCHEMA)
        with db:
            db.executemany("INSERT INTO feeds (name) VALUES (?)", [(n,) for n, _ in documents])
        ids = dict(db.execute("SELECT name, id FROM feeds"))
        print(f"ingest from files (Python reference, feedparser {feedparser.__version__}, "
              f"sqlite3 {sqlite3.sqlite_version}): 1 thread, {len(documents)} documents, "
              f"{total / 1e6:.1f} MB ({copies} copies of {args.corpus})")
        print(f"{'pass':>10} {'seconds':>9} {'items':>9} {'items/s':>10} {'MB/s':>8} "
              f"{'new':>9} {'hits':>7} {'failed':>8} {'CPU s':>7}")
        for name in ("first", "unchanged"):
            items = new = hits = failed = 0
            started, cpu_started = time.perf_counter(), time.process_time()
            for doc, data in documents:
                counts = ingest_document(db, indicators, ids[doc], data)
                if counts is None:
                    failed += 1
                    continue
                items, new, hits = items + counts[0], new + counts[1], hits + counts[2]
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
            print(f"{name:>10} {seconds:>9.2f} {items:>9} {items / seconds:>10.0f} "
                  f"{total / seconds / 1e6:>8.1f} {new:>9} {hits:>7} {failed:>8} {cpu:>7.2f}")
        db.close()
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB")


def check_examples(args):
    """Runs the `examples` of indicators.yaml through the hand-compiled indicators (needs
    PyYAML, e.g. Debian's /usr/bin/python3); exit status 1 when any is wrong."""
    import yaml

    rules = yaml.safe_load(open(args.indicators, encoding="utf-8"))
    indicators = {i.name: i for i in shipped_indicators(read_lists(args.indicators))}
    right = wrong = 0
    for spec in rules["indicators"]:
        for kind in ("match", "no_match"):
            for example in spec.get("examples", {}).get(kind, []):
                if isinstance(example, str):
                    example = {"title": example}
                item = Item(example.get("title", ""), example.get("summary", ""))
                if (indicators[spec["id"]].score(item) is not None) == (kind == "match"):
                    right += 1
                else:
                    wrong += 1
                    print(f"wrong: {spec['id']} {kind}: {example.get('title', '')}")
    print(f"{right} examples right, {wrong} wrong")
    return 1 if wrong else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--indicators", default=os.path.join(HERE, "..", "indicators.yaml"))
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("match", help="match throughput on items from `watchfloor bench match`")
    m.add_argument("--items-file", required=True)
    m.add_argument("--items", type=int, default=300_000)
    m.add_argument("--seconds", type=float, default=10.0, help="time budget of each run")
    m.add_argument("--generated", type=int, default=200)
    i = sub.add_parser("ingest", help="ingest throughput from files")
    i.add_argument("--corpus", default=os.path.join(HERE, "..", "..", "shared", "corpus", "feeds"))
    i.add_argument("--megabytes", type=int, default=50)
    sub.add_parser("check", help="run the examples of indicators.yaml (needs PyYAML)")
    args = parser.parse_args()
    if args.command == "check":
        return check_examples(args)
    if args.command == "match":
        bench_match(args)
    else:
        global feedparser
        import feedparser
        bench_ingest(args)


if __name__ == "__main__":
    sys.exit(main())
