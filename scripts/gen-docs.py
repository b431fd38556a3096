#!/usr/bin/env python3
"""Generate German-like municipal documents (JSON Lines) and a search query set.

What it does
    Writes N synthetic documents of a German city administration, one JSON object
    per line, for benchmarking full-text search (akten's tantivy index and the SQLite
    FTS5 baseline in scripts/fts5-baseline.py). Each line:

        {"id": "<32 hex>", "title": str, "body": str,
         "aktenzeichen": "610.07-0012/2021", "vorgangszeichen": "610.07-0012/2021-3" | null,
         "plan": "610.07", "unit": "63", "channel": "cli|mailroom|portal|council",
         "kind": "eingang|ausgang|intern|vermerk", "sender": str,
         "received": "YYYY-MM-DD", "date": "YYYY-MM-DD"}

    plan is a Betreffseinheit of aktenplan/aktenplan.toml (the leaves, like "610.07";
    only they take Akten), unit its organisational unit (oe, inherited from above),
    kind the snake_case names of DocKind in src/model.rs. Documents lean on their
    position: titles and bodies often carry its stichworte, and senders its absender,
    so a term restricted to a plan subtree behaves like real filing. Bodies have
    40-400 drawn words (lognormal, median 110) plus the inserted expressions, plan
    keywords, dates, amounts and Flurstück numbers; titles have 3-10 words.

Vocabulary
    If ../shared/corpus/german-text/{karlsruhe-dev.jsonl,smallwikicorpus.csv} exist
    (next to the repository), word frequencies are counted from them (real German,
    Zipf-distributed; only the word counts are used, and only the generated output
    and the query set, see below, are written).
    Otherwise fixtures/wortliste.txt is used: about 3,000 hand-written words of
    municipal administration with frequency weights. stderr says which was used.
    Words are drawn independently, so on their own they would give phrase queries
    almost no hits; the generator therefore inserts fixed multi-word expressions
    (PHRASES below: letter formulas, legal boilerplate) at set per-document rates.

Determinism
    Only random.Random(seed) and integer arithmetic decide the output: all weights
    are integers, and the one use of math.log/exp (the body-length table, built once)
    is rounded to integers. So the same --n, --seed and vocabulary give byte-identical
    output on any machine with Python 3.11 or newer (checked: also across
    PYTHONHASHSEED values). Document i does not depend on --n: the first 10,000
    documents of a 1,000,000 run equal a 10,000 run.

Query set (--queries FILE)
    Writes the queries both search sides run, as JSON:
        {"term": [...], "and": [[a, b], ...], "phrase": [...], "prefix": [...],
         "filtered": [{"q": ..., "plan": ...}, ...], "fuzzy": [...], "meta": {...}}
    20 queries per type, drawn with Random(seed + 1) from the words of
    fixtures/wortliste.txt that also occur in the active vocabulary (so the file
    only holds text written for this project: that list, PHRASES and the Aktenplan's
    stichworte; nothing from the corpus), spread over three frequency bands
    by expected document frequency: common (>= 1 % of documents), medium
    (0.1-1 %), rare (< 0.1 %; with the corpus vocabulary about 0.015-0.1 %, as
    its rarest kept words occur 3 times in 2.7 million); 7/7/6 per type.
    Phrases are the closing formula, 13 PHRASES entries of all rates (8 % down to
    0.002 % of documents), 4 sub-phrases of them, and two pairs of common words
    that only meet by chance. Prefixes are 3-6 letters, lower case, as typed (with
    umlauts; both sides fold them); their band counts all words they expand to.
    Filtered queries restrict a term to a subtree of the Aktenplan (Hauptgruppe "6",
    Gruppe "61", an Untergruppe "610" or a Betreffseinheit "610.07"); half the terms
    come from the subtree's own stichworte. Fuzzy queries are words with one typo
    (one substitution, deletion or insertion, Levenshtein distance 1) away from the
    first and the last two letters, checked not to be a word of the vocabulary
    themselves; meta.fuzzy_targets gives the intended words. The query set depends
    on --seed and the vocabulary only, not on --n. The committed
    scripts/bench-queries.json was made with the corpus vocabulary and seed 42.

Usage
    python3 scripts/gen-docs.py --n 100000 --out /tmp/docs-100k.jsonl
    python3 scripts/gen-docs.py --n 0 --queries scripts/bench-queries.json
    python3 scripts/gen-docs.py --n 10 --seed 7 | head -1     # to stdout
    python3 scripts/gen-docs.py --wortliste-only --n 1000 ...  # ignore the corpus

Measures
    Nothing itself; prints documents/s and output size on stderr when done.
"""
import argparse
import bisect
import collections
import csv
import datetime
import json
import math
import os
import random
import re
import sys
import time
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CORPUS = os.path.join(ROOT, "..", "shared", "corpus", "german-text")
DEFAULT_WORTLISTE = os.path.join(ROOT, "fixtures", "wortliste.txt")
DEFAULT_AKTENPLAN = os.path.join(ROOT, "aktenplan", "aktenplan.toml")

# Fixed multi-word expressions and the share of documents that contain each one.
# Letter formulas go to incoming/outgoing letters only (see Generator.body).
GREETING = ("Sehr geehrte Damen und Herren", 0.50)
CLOSING = ("Mit freundlichen Grüßen", 0.60)
PHRASES = [
    ("unter Bezugnahme auf Ihr Schreiben vom", 0.08),
    ("im Rahmen der Anhörung", 0.05),
    ("zur Kenntnis genommen", 0.05),
    ("mit der Bitte um Stellungnahme", 0.04),
    ("nach Prüfung der eingereichten Unterlagen", 0.03),
    ("Antrag auf Erteilung einer Baugenehmigung", 0.02),
    ("gegen diesen Bescheid kann innerhalb eines Monats nach Bekanntgabe Widerspruch erhoben werden", 0.02),
    ("wir bitten um Rückmeldung bis zum", 0.02),
    ("zu den Akten", 0.015),
    ("Beschluss des Rates", 0.012),
    ("nach pflichtgemäßem Ermessen", 0.01),
    ("Verlängerung der Frist", 0.01),
    ("bitte reichen Sie die fehlenden Unterlagen nach", 0.008),
    ("Träger öffentlicher Belange", 0.006),
    ("Wiedervorlage in vier Wochen", 0.005),
    ("die sofortige Vollziehung wird angeordnet", 0.004),
    ("Einladung zur Sitzung des Rates", 0.003),
    ("Beseitigung der Mängel", 0.003),
    ("Aufstellung des Bebauungsplans", 0.002),
    ("frühzeitige Beteiligung der Öffentlichkeit", 0.0015),
    ("Einspruch gegen den Bußgeldbescheid", 0.001),
    ("Auskunft aus dem Melderegister", 0.0008),
    ("Antrag auf Akteneinsicht", 0.0005),
    ("Erteilung einer Sondernutzungserlaubnis", 0.0004),
    ("Ausnahmegenehmigung nach der Straßenverkehrsordnung", 0.0003),
    ("Abholung des Sperrmülls", 0.0002),
    ("Fällung eines Baumes auf städtischem Grund", 0.0001),
    ("Festsetzung der Grundsteuer für das Kalenderjahr", 0.00005),
    ("vorbehaltlich der Zustimmung des Ausschusses", 0.00002),
]
# Parts of PHRASES (each with a content word), used as phrase queries.
SUB_PHRASES = ["Rahmen der Anhörung", "Erteilung einer Baugenehmigung", "sofortige Vollziehung",
               "fehlenden Unterlagen"]
# Parts per million; integers keep the comparison exact on every machine.
PHRASES_PPM = [(text.split(), round(rate * 1_000_000)) for text, rate in PHRASES]

KINDS = [("eingang", 45), ("ausgang", 25), ("intern", 15), ("vermerk", 15)]
CHANNELS = {  # by kind
    "eingang": [("mailroom", 55), ("portal", 30), ("cli", 10), ("council", 5)],
    "ausgang": [("cli", 70), ("mailroom", 20), ("portal", 10)],
    "intern": [("cli", 85), ("council", 15)],
    "vermerk": [("cli", 90), ("council", 10)],
}
FIRST_NAMES = """Anna Maria Ursula Monika Petra Sabine Andrea Claudia Susanne Stefanie Julia
Katharina Laura Lena Sarah Hannah Sophie Elisabeth Renate Karin Gabriele Birgit Heike Nicole
Thomas Michael Andreas Stefan Peter Klaus Wolfgang Jürgen Frank Uwe Markus Christian Martin
Alexander Daniel Tobias Jan Lukas Jonas Felix Paul Günter Dieter Hans Jörg Matthias Sebastian
Ayşe Mehmet Fatma Ali Olga Dmitri Katarzyna Piotr Giulia Marco Elena Jovana Ahmad Leyla""".split()
SURNAMES = """Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer
Koch Bauer Richter Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger Hofmann Hartmann
Lange Schmitt Werner Schmitz Krause Meier Lehmann Schmid Schulze Maier Köhler Herrmann König
Walter Mayer Huber Kaiser Fuchs Peters Lang Scholz Möller Weiß Jung Hahn Schubert Vogel
Friedrich Keller Günther Frank Berger Winkler Roth Beck Lorenz Baumann Franke Albrecht Schuster
Simon Ludwig Böhm Winter Kraus Martin Schumacher Krämer Vogt Stein Jäger Otto Sommer Groß
Seidel Heinrich Brandt Haas Schreiber Graf Schulte Dietrich Ziegler Kuhn Kühn Pohl Engel Horn
Yılmaz Kaya Demir Şahin Nowak Kowalski Popescu Rossi Petrović Haddad""".split()
ORG_PATTERNS = [
    "{s} Bau GmbH", "Ingenieurbüro {s}", "Architekturbüro {s} und Partner",
    "Rechtsanwälte {s} & {s2}", "Steuerberatung {s}", "{s} Immobilien GmbH & Co. KG",
    "Gaststätte Zum {s}", "Hausverwaltung {s}", "Elektro {s} GmbH", "Sanitär {s}",
    "Notariat {s}", "Sachverständigenbüro {s}", "Autohaus {s}", "Bäckerei {s}",
]
FIXED_ORGS = [
    "Stadtwerke Musterstadt GmbH", "Polizeiinspektion Musterstadt", "Finanzamt Musterstadt",
    "Landratsamt Musterkreis", "Bezirksregierung", "Amtsgericht Musterstadt",
    "TuS Musterstadt 1890 e.V.", "Förderverein Grundschule am Lindenweg e.V.",
    "Kreishandwerkerschaft", "Industrie- und Handelskammer", "Deutsche Rentenversicherung",
    "Wohnungsbaugesellschaft Musterstadt mbH", "Verkehrsbetriebe Musterstadt",
    "Evangelische Kirchengemeinde", "Katholische Pfarrei St. Martin", "Caritasverband",
    "Diakonie", "Jobcenter Musterstadt", "Agentur für Arbeit", "Bürgerinitiative Südstadt",
]
TITLE_LEN = [(3, 10), (4, 18), (5, 20), (6, 18), (7, 13), (8, 10), (9, 6), (10, 5)]
BODY_MIN, BODY_MAX, BODY_MEDIAN, BODY_SIGMA = 40, 400, 110, 0.55
FIRST_DAY = datetime.date(2015, 1, 1).toordinal()
LAST_DAY = datetime.date(2026, 11, 30).toordinal()

WORD_RE = re.compile(r"[A-Za-zÄÖÜäöüß]+")
WORD_SHAPE = re.compile(r"[A-ZÄÖÜ]?[a-zäöüß]+")  # lower case or capitalised, no ALL CAPS
HYPHEN_BREAK = re.compile(r"(?<=[a-zäöüß])-\n(?=[a-zäöüß])")
CORPUS_MIN_COUNT = 3


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Weighted:
    """A fixed list of items with integer weights, sampled with random.Random."""

    def __init__(self, pairs):
        self.items = [item for item, _ in pairs]
        self.cum = []
        total = 0
        for _, weight in pairs:
            total += int(weight)
            self.cum.append(total)
        if not self.items or total <= 0:
            raise ValueError("empty weighted list")
        self.total = total

    def one(self, rng):
        return self.items[bisect.bisect_right(self.cum, int(rng.random() * self.total))]

    def many(self, rng, k):
        return rng.choices(self.items, cum_weights=self.cum, k=k)


# ---------------------------------------------------------------------------- vocabulary

def read_wortliste(path):
    """[(word, weight)] and the set of function words (flag f) of fixtures/wortliste.txt."""
    words, function = [], set()
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) < 2 or not parts[1].isdigit():
                sys.exit(f"{path}:{n}: expected WORD<TAB>WEIGHT[<TAB>f], got {line!r}")
            words.append((parts[0], int(parts[1])))
            if len(parts) > 2 and parts[2] == "f":
                function.add(parts[0].lower())
    return words, function


def corpus_counts(corpus_dir):
    """Word counts of the German text corpus, case variants merged."""
    counts = collections.Counter()
    with open(os.path.join(corpus_dir, "karlsruhe-dev.jsonl"), encoding="utf-8") as f:
        for line in f:
            paper = json.loads(line)
            text = (paper.get("title") or "") + "\n" + (paper.get("text") or "")
            counts.update(WORD_RE.findall(HYPHEN_BREAK.sub("", text)))
    csv.field_size_limit(1 << 30)
    with open(os.path.join(corpus_dir, "smallwikicorpus.csv"), encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            counts.update(WORD_RE.findall(row.get("text") or ""))
    kept = collections.Counter()
    for word, n in counts.items():
        if len(word) < 2 or len(word) > 40 or not WORD_SHAPE.fullmatch(word):
            continue
        if word.startswith("Karlsruh"):  # the source city; our documents are Musterstadt's
            continue
        kept[word] = n
    # "Die" at a sentence start is "die": fold a capitalised form into its lower-case
    # form when that is the more frequent one (nouns stay capitalised).
    for word in [w for w in kept if w[0].isupper()]:
        lower = word.lower()
        if kept.get(lower, 0) > kept[word]:
            kept[lower] += kept.pop(word)
    return {w: n for w, n in kept.items() if n >= CORPUS_MIN_COUNT}


def load_vocabulary(corpus_dir, wortliste_path, wortliste_only):
    """(weighted word list, function words, wortliste words, description)."""
    wortliste, function = read_wortliste(wortliste_path)
    files = [os.path.join(corpus_dir, n) for n in ("karlsruhe-dev.jsonl", "smallwikicorpus.csv")]
    missing = [p for p in files if not os.path.isfile(p)]
    if wortliste_only or missing:
        why = "--wortliste-only" if wortliste_only else f"{missing[0]} not found"
        log(f"vocabulary: {os.path.relpath(wortliste_path)} ({len(wortliste)} words; {why})")
        return wortliste, function, [w for w, _ in wortliste], "wortliste"
    start = time.perf_counter()
    counts = corpus_counts(corpus_dir)
    pairs = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    log(f"vocabulary: corpus {os.path.normpath(corpus_dir)} ({len(pairs)} words seen "
        f">= {CORPUS_MIN_COUNT} times, {sum(counts.values()):,} tokens, "
        f"{time.perf_counter() - start:.1f} s)")
    return pairs, function, [w for w, _ in wortliste], "corpus"


# ---------------------------------------------------------------------------- aktenplan

def load_positions(path):
    """Betreffseinheiten of the Aktenplan: dicts with code, unit, keywords, senders, yearly."""
    with open(path, "rb") as f:
        plan = tomllib.load(f)
    units = {u["kuerzel"]: u["name"] for u in plan.get("organisationseinheit", [])}
    entries = {e["kennzeichen"]: e for e in plan.get("einheit", [])}
    codes = set(entries)

    def parent(code):  # as Kennzeichen::parent in src/model.rs
        if "." in code:
            return code.rsplit(".", 1)[0]
        return code[:-1] or None

    def inherited_unit(code):
        while code is not None:
            if entries.get(code, {}).get("oe"):
                return entries[code]["oe"]
            code = parent(code)
        return None

    has_children = {parent(c) for c in codes}
    positions = []
    for code, e in entries.items():  # file order
        if code in has_children or e.get("stillgelegt"):
            continue  # only leaves (Betreffseinheiten) take Akten
        unit = inherited_unit(code)
        positions.append({
            "code": code,
            "unit": unit,
            "unit_name": units.get(unit, f"Amt {unit}"),
            "title": e.get("titel", ""),
            "keywords": list(e.get("stichworte", [])),
            "senders": list(e.get("absender", [])),
            "yearly": bool(e.get("jahres_sammelakte", False)),
        })
    if not positions:
        sys.exit(f"{path}: no Betreffseinheiten found")
    return positions


def subtree(code, plan_code):
    """True if plan_code is code or lies below it (Kennzeichen::is_within)."""
    if "." in code:
        return plan_code == code or plan_code.startswith(code + ".")
    return plan_code.startswith(code)


# ---------------------------------------------------------------------------- documents

class Generator:
    def __init__(self, vocab_pairs, function_words, positions, seed):
        self.rng = random.Random(seed)
        self.words = Weighted(vocab_pairs)
        self.nouns = Weighted([(w, n) for w, n in vocab_pairs
                               if w[0].isupper() and w.lower() not in function_words])
        self.positions = positions
        # Documents per position: mass business (yearly collective files) is busier;
        # a seeded shuffle then a Zipf-like rank weight.
        order = list(range(len(positions)))
        random.Random(seed ^ 0x5EED).shuffle(order)
        weights = [0] * len(positions)
        for rank, i in enumerate(order):
            weights[i] = (4 if positions[i]["yearly"] else 1) * 1_000_000 // (rank + 10)
        self.plan = Weighted(list(zip(range(len(positions)), weights)))
        self.kinds = Weighted(KINDS)
        self.channels = {k: Weighted(v) for k, v in CHANNELS.items()}
        self.title_len = Weighted(TITLE_LEN)
        lengths = range(BODY_MIN, BODY_MAX + 1)  # lognormal, rounded to integer weights
        mu = math.log(BODY_MEDIAN)
        self.body_len = Weighted([
            (n, round(1e9 / n * math.exp(-((math.log(n) - mu) ** 2) / (2 * BODY_SIGMA ** 2))))
            for n in lengths])
        self.org_patterns = ORG_PATTERNS

    def person(self):
        rng = self.rng
        return f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}"

    def organisation(self):
        rng = self.rng
        if rng.random() < 0.4:
            return rng.choice(FIXED_ORGS)
        return rng.choice(self.org_patterns).format(s=rng.choice(SURNAMES), s2=rng.choice(SURNAMES))

    def sender(self, kind, pos):
        rng = self.rng
        if kind in ("intern", "vermerk"):
            return f"{pos['unit_name']}, {self.person()}" if rng.random() < 0.5 else pos["unit_name"]
        if kind == "ausgang":
            return f"Stadt Musterstadt, {pos['unit_name']}"
        if pos["senders"] and rng.random() < 0.3:
            return rng.choice(pos["senders"])
        return self.person() if rng.random() < 0.6 else self.organisation()

    def number(self):
        rng = self.rng
        r = rng.random()
        if r < 0.3:
            return f"{rng.randint(1, 28):02}.{rng.randint(1, 12):02}.{rng.randint(2015, 2026)}"
        if r < 0.6:
            return f"{rng.randint(1, 99_999):,}".replace(",", ".") + f",{rng.randint(0, 99):02} Euro"
        if r < 0.8:
            return f"Flurstück {rng.randint(1, 2500)}"
        return f"§ {rng.randint(1, 120)} Abs. {rng.randint(1, 6)}"

    def body(self, kind, pos):
        rng = self.rng
        words = self.words.many(rng, self.body_len.one(rng))
        # Keywords of the plan position (as the mailroom's classifier would see them).
        if pos["keywords"] and rng.random() < 0.7:
            for _ in range(rng.randint(1, 3)):
                words.insert(rng.randrange(len(words) + 1), rng.choice(pos["keywords"]))
        sentences = []
        i = 0
        while i < len(words):
            n = rng.randint(6, 18)
            sentence = words[i:i + n]
            i += n
            if rng.random() < 0.08:
                sentence.append(self.number())
            if len(sentence) > 6 and rng.random() < 0.3:
                sentence[rng.randrange(2, len(sentence) - 1)] += ","
            sentences.append(sentence)
        for phrase, ppm in PHRASES_PPM:
            if rng.randrange(1_000_000) < ppm:
                s = sentences[rng.randrange(len(sentences))]
                at = rng.randrange(len(s) + 1)
                s[at:at] = phrase
        parts = []
        letter = kind in ("eingang", "ausgang")
        if letter and rng.random() < GREETING[1]:
            parts.append(GREETING[0] + ",")
        for s in sentences:
            first = s[0]
            s[0] = first[:1].upper() + first[1:]
            parts.append(" ".join(s) + ".")
        if letter and rng.random() < CLOSING[1]:
            parts.append(CLOSING[0])
        return " ".join(parts)

    def title(self, pos):
        rng = self.rng
        n = self.title_len.one(rng)
        words = []
        if pos["keywords"] and rng.random() < 0.6:
            words.extend(rng.choice(pos["keywords"]).split())
        elif rng.random() < 0.3:
            words.extend(pos["title"].replace(":", "").replace(",", "").split())
        words.extend(self.nouns.many(rng, max(0, n - len(words))))
        return " ".join(words[:max(n, 3)])

    def doc(self):
        rng = self.rng
        pos = self.positions[self.plan.one(rng)]
        kind = self.kinds.one(rng)
        day = rng.randint(FIRST_DAY, LAST_DAY)
        date = datetime.date.fromordinal(day)
        received = date
        if kind == "eingang":
            received = datetime.date.fromordinal(min(day + rng.randint(0, 14), LAST_DAY + 14))
        year = date.year - (0 if rng.random() < 0.7 else rng.randint(1, 2))
        if pos["yearly"]:
            lfd = 1 if rng.random() < 0.9 else rng.randint(2, 3)
        else:
            lfd = 1 + int(300 * rng.random() ** 3)
        az = f"{pos['code']}-{lfd:04}/{year}"
        vz = f"{az}-{rng.randint(1, 12)}" if rng.random() < 0.4 else None
        doc_id = f"{rng.getrandbits(128):032x}"
        return {
            "id": doc_id,
            "title": self.title(pos),
            "body": self.body(kind, pos),
            "aktenzeichen": az,
            "vorgangszeichen": vz,
            "plan": pos["code"],
            "unit": pos["unit"],
            "channel": self.channels[kind].one(rng),
            "kind": kind,
            "sender": self.sender(kind, pos),
            "received": received.isoformat(),
            "date": date.isoformat(),
        }

    def mean_words(self):
        body = sum(n * (c - p) for n, c, p in
                   zip(self.body_len.items, self.body_len.cum, [0] + self.body_len.cum[:-1]))
        title = sum(n * (c - p) for n, c, p in
                    zip(self.title_len.items, self.title_len.cum, [0] + self.title_len.cum[:-1]))
        return body / self.body_len.total + title / self.title_len.total


# ---------------------------------------------------------------------------- queries

BANDS = [("common", 0.01, 1.0), ("medium", 0.001, 0.01), ("rare", 0.0, 0.001)]
PER_BAND = (7, 7, 6)


def fold(word):
    """Lower case without umlaut dots, as unicode61 remove_diacritics 2 indexes a word."""
    return word.lower().translate(str.maketrans("äöü", "aou"))


def make_queries(vocab_pairs, function_words, wortliste_words, positions, mean_words, seed, source):
    rng = random.Random(seed + 1)
    total = sum(n for _, n in vocab_pairs)
    freq = dict(vocab_pairs)

    def doc_share(p):  # expected share of documents containing a word of token share p
        return 1.0 - (1.0 - p) ** mean_words

    candidates = sorted({w for w in wortliste_words
                         if w in freq and w.lower() not in function_words and len(w) >= 4})
    share = {w: doc_share(freq[w] / total) for w in candidates}

    def band(words, scores):
        out = []
        for name, lo, hi in BANDS:
            out.append(sorted(w for w in words if lo <= scores[w] < hi))
        return out

    bands = band(candidates, share)
    for (name, _, _), words in zip(BANDS, bands):
        if len(words) < 20:
            sys.exit(f"too few {name} query words in the vocabulary ({len(words)})")

    def spread(k=PER_BAND):
        return [w for words, n in zip(bands, k) for w in rng.sample(words, n)]

    queries = {"term": spread()}

    pairs = []
    for a_band, b_band, n in ((0, 0, 7), (0, 1, 7), (1, 2, 6)):
        while len([p for p in pairs if p[2] == (a_band, b_band)]) < n:
            a, b = rng.choice(bands[a_band]), rng.choice(bands[b_band])
            if a != b and (a, b, (a_band, b_band)) not in pairs:
                pairs.append((a, b, (a_band, b_band)))
    queries["and"] = [[a, b] for a, b, _ in pairs]

    phrases = [text for text, _ in PHRASES]
    chosen = [CLOSING[0]] + [phrases[i] for i in (0, 1, 3, 5, 7, 9, 11, 13, 15, 17, 20, 24, 28)]
    chance = [" ".join(rng.sample(bands[0], 2)) for _ in range(2)]
    queries["phrase"] = chosen + SUB_PHRASES + chance

    vocab_lower = collections.Counter()
    for w, n in vocab_pairs:
        vocab_lower[fold(w)] += n
    prefixes = sorted({w.lower()[:k] for w in candidates for k in (3, 4, 5, 6) if len(w) > k + 1})
    folded = collections.Counter()  # token count of all words starting with a folded prefix
    wanted = {fold(p) for p in prefixes}
    for w, n in vocab_lower.items():
        for k in (3, 4, 5, 6):
            if w[:k] in wanted:
                folded[w[:k]] += n
    pshare = {p: doc_share(folded[fold(p)] / total) for p in prefixes}
    pbands = band(prefixes, pshare)
    queries["prefix"] = [p for words, n in zip(pbands, PER_BAND) for p in rng.sample(words, n)]

    codes = sorted({p["code"] for p in positions})
    levels = {
        1: sorted({c[:1] for c in codes}),
        2: sorted({c[:2] for c in codes}),
        3: sorted({c.split(".")[0] for c in codes if len(c.split(".")[0]) == 3}),
        4: codes,
    }
    filtered = []
    for level, n in ((1, 5), (2, 6), (3, 5), (4, 4)):
        for code in rng.sample(levels[level], n):
            if len(filtered) % 2 == 0:
                inside = [p for p in positions if subtree(code, p["code"])]
                words = sorted({w.strip(",.()") for p in inside for k in p["keywords"] for w in k.split()
                                if len(w) >= 4 and w.lower() not in function_words})
                q = rng.choice(words) if words else rng.choice(bands[0])
            else:
                q = rng.choice(bands[rng.randrange(2)])
            filtered.append({"q": q, "plan": code})
    queries["filtered"] = filtered

    known = set(vocab_lower)
    fuzzy, targets = [], []
    letters = "abcdefghijklmnopqrstuvwxyzäöüß"
    for words, n in zip(bands, PER_BAND):
        pool = [w for w in words if len(w) >= 6]
        for w in rng.sample(pool, n):
            while True:
                at = rng.randrange(1, len(w) - 2)
                edit = rng.randrange(3)
                if edit == 0:
                    typo = w[:at] + rng.choice(letters) + w[at + 1:]
                elif edit == 1:
                    typo = w[:at] + w[at + 1:]
                else:
                    typo = w[:at] + rng.choice(letters) + w[at:]
                if typo != w and fold(typo) not in known:
                    break
            fuzzy.append(typo)
            targets.append(w)
    queries["fuzzy"] = fuzzy
    queries["meta"] = {
        "generator": "scripts/gen-docs.py --queries",
        "seed": seed,
        "vocabulary": source,
        "per_type": "20 queries: common/medium/rare by expected share of documents",
        "bands": {name: [lo, hi] for name, lo, hi in BANDS},
        "and_bands": "7 common+common, 7 common+medium, 6 medium+rare",
        "phrase_kinds": "closing formula + 13 inserted expressions (8 % .. 0.002 % of documents), "
                        "4 sub-phrases, 2 chance pairs",
        "filtered_plan_levels": "5 Hauptgruppe, 6 Gruppe, 5 Untergruppe, 4 Betreffseinheit",
        "fuzzy_targets": targets,
    }
    return queries


# ---------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="See the module docstring for the format and the query set.")
    ap.add_argument("--n", type=int, default=10_000, help="number of documents (default 10000; 0: none)")
    ap.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    ap.add_argument("--out", help="write documents to this file instead of stdout")
    ap.add_argument("--queries", metavar="FILE", help="also write the query set (JSON) to FILE")
    ap.add_argument("--corpus", default=DEFAULT_CORPUS,
                    help="folder with karlsruhe-dev.jsonl and smallwikicorpus.csv "
                         "(default ../shared/corpus/german-text)")
    ap.add_argument("--wortliste", default=DEFAULT_WORTLISTE,
                    help="fallback word list (default fixtures/wortliste.txt)")
    ap.add_argument("--wortliste-only", action="store_true",
                    help="use the word list even if the corpus exists")
    ap.add_argument("--aktenplan", default=DEFAULT_AKTENPLAN,
                    help="plan file (default aktenplan/aktenplan.toml)")
    args = ap.parse_args()
    if args.n < 0:
        ap.error("--n must be >= 0")
    for path in (args.wortliste, args.aktenplan):
        if not os.path.isfile(path):
            sys.exit(f"{path}: not found")

    vocab, function_words, wortliste_words, source = load_vocabulary(
        args.corpus, args.wortliste, args.wortliste_only)
    positions = load_positions(args.aktenplan)
    log(f"aktenplan: {len(positions)} Betreffseinheiten from {os.path.relpath(args.aktenplan)}")
    gen = Generator(vocab, function_words, positions, args.seed)

    if args.queries:
        queries = make_queries(vocab, function_words, wortliste_words, positions,
                               gen.mean_words(), args.seed, source)
        with open(args.queries, "w", encoding="utf-8", newline="\n") as f:
            json.dump(queries, f, ensure_ascii=False, indent=1)
            f.write("\n")
        log(f"queries: {sum(len(v) for k, v in queries.items() if k != 'meta')} written to {args.queries}")

    if args.n == 0:
        return
    out = open(args.out, "w", encoding="utf-8", newline="\n") if args.out else sys.stdout
    start = time.perf_counter()
    size = 0
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    try:
        batch = []
        for i in range(1, args.n + 1):
            batch.append(dumps(gen.doc()))
            if len(batch) == 10_000 or i == args.n:
                chunk = "\n".join(batch) + "\n"
                out.write(chunk)
                size += len(chunk.encode("utf-8")) if args.out else 0
                batch.clear()
                if args.out and (i % 100_000 == 0 or i == args.n) and args.n >= 100_000:
                    log(f"  {i:,} documents, {time.perf_counter() - start:.0f} s")
    except BrokenPipeError:  # e.g. piped into head
        sys.stderr.close()
        return
    finally:
        if args.out:
            out.close()
    secs = time.perf_counter() - start
    where = f" to {args.out} ({size / 1e6:.1f} MB)" if args.out else ""
    log(f"generated {args.n:,} documents in {secs:.1f} s ({args.n / secs:,.0f} docs/s){where}")


if __name__ == "__main__":
    main()
