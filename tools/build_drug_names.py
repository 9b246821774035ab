#!/usr/bin/env python3
"""Build indexer/text/data/drug_names.tsv: brand names and other names of consumer medicines,
each with the generic name articles use ("singulair" -> montelukast, "flomax" -> tamsulosin).

The source is the dictionary shipped inside the PyPI package `drug-named-entity-recognition`
(MIT, Fast Data Science; `pip install '.[tools]'`), which combines DrugBank's open vocabulary
(CC0), MeSH (NLM), MedlinePlus and NHS medicine names and Wikipedia drug infoboxes
(CC BY-SA 3.0). Its data file is read directly: importing the package takes seconds (it
builds a fuzzy-match index at import) and needs `requests`, so the engine never imports it and
reads only the table this script writes.

What is kept, and why:

- Only medicines with a MedlinePlus or NHS page (about 1,500): the ones consumers ask about.
  The other 18,000 entries are research compounds, whose synonyms are codes and chemical
  names no reader types.
- Only generics of one ingredient: a combination's name ("acetaminophen, butalbital, and
  caffeine") is no phrase an article uses word for word.
- Names of one to three plain words (letters, digits, hyphens), not the generic itself.
- Not names that are everyday words or names of people and things (EXCLUDED), checked by
  hand against those the English word list holds.

Each row says what kind of name it is: `brand` where the package marks it so, `common` for
another name common enough to be in pyspellchecker's English word list (most are brands:
"tylenol", "zoloft"), `other` for the rest (other brands, international and Latin spellings:
"olanzapin", "loratadinum"). The engine expands every name to its generic, and a generic to
its `brand` and `common` names.

    python tools/build_drug_names.py            # writes indexer/text/data/drug_names.tsv
    python tools/build_drug_names.py --check    # exits 1 when the shipped table differs
"""

from __future__ import annotations

import argparse
import bz2
import importlib.metadata
import importlib.util
import pickle
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "indexer" / "text" / "data" / "drug_names.tsv"
PACKAGE = "drug_named_entity_recognition"
DATA_FILE = "drug_ner_dictionary.pkl.bz2"
# A name of one to three words of letters, digits and hyphens, none of them a bare number
# ("humalog kwikpen", "l-thyroxine"; not "pt 9").
PLAIN_NAME = re.compile(r"[a-z][a-z0-9\-]*(?: (?!\d+(?: |$))[a-z0-9][a-z0-9\-]*){0,2}")
# Shorter names are mostly codes or everyday syllables ("aman", "cera", "sone"), unless the
# package marks them as brands ("alli", "qvar").
MIN_NAME_LEN = 5
# Names the English word list holds that are everyday words, people's names or products that
# are not medicines (reviewed by hand from this script's --english output): as query words
# they would pull a medicine into unrelated questions.
EXCLUDED = frozenset("""
    armour kendrick copal generics sunkist colgate aquafresh noxzema clearasil dagan emend
    luminal cambia cortisol phospholipids morphia miltown serpasil
    """.split()) | {
    # A class of medicines, not the one the package maps it to (vitamin D is not only
    # ergocalciferol).
    "vitamin b", "vitamin d", "vitamin d nos"}


def _data_path() -> Path:
    """The package's dictionary file, found without importing the package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"{PACKAGE} is not installed: pip install '.[tools]'")
    return Path(next(iter(spec.submodule_search_locations))) / DATA_FILE


def _generic(canonical: str) -> str | None:
    """The generic's name as articles write it, or None for a combination."""
    name = re.sub(r"\s*\(.*?\)", "", canonical).strip()
    if "," in name or " and " in name or "/" in name or not name:
        return None
    return name


def build_rows(data: dict, english) -> list[tuple[str, str, str]]:
    """(name, generic, kind) rows from the package's dictionary, sorted."""
    canonical_data = data["drug_canonical_to_data"]
    variant_data = data["drug_variant_to_variant_data"]
    consumer = {c for c, d in canonical_data.items()
                if "medline_plus_id" in d or "nhs_url" in d}
    rows = set()
    for name, canonicals in data["drug_variant_to_canonical"].items():
        if len(canonicals) != 1 or canonicals[0] not in consumer:
            continue
        generic = _generic(canonicals[0])
        name = name.strip()
        brand = bool(variant_data.get(name, {}).get("is_brand"))
        if (generic is None or name == generic or (len(name) < MIN_NAME_LEN and not brand)
                or not PLAIN_NAME.fullmatch(name) or name in EXCLUDED):
            continue
        if brand:
            kind = "brand"
        elif name in english:
            kind = "common"
        else:
            kind = "other"
        rows.add((name, generic, kind))
    return sorted(rows)


def render(rows: list[tuple[str, str, str]], version: str) -> str:
    """The table's text: a provenance header, then one name a line."""
    head = [
        "# Names of consumer medicines -> the generic name articles use. Made by",
        "# tools/build_drug_names.py from the dictionary of the PyPI package",
        f"# drug-named-entity-recognition {version} (MIT, Fast Data Science), which combines",
        "# DrugBank open data (CC0), MeSH and MedlinePlus (NLM), NHS medicine names and",
        "# Wikipedia (CC BY-SA 3.0). kind: brand (marked so by the package), common (in the",
        "# English word list: mostly well-known brands), other (other brands and spellings).",
        "# name\tgeneric\tkind",
    ]
    return "\n".join(head + ["\t".join(row) for row in rows]) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write (or check) the table."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare with the shipped table")
    parser.add_argument("--english", action="store_true",
                        help="list the kept names the English word list holds, for review")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from indexer.text.spelling import english_words

    with bz2.open(_data_path(), "rb") as f:
        # The package's own data file, from the registry: the one place it is unpickled.
        data = pickle.load(f)  # noqa: S301
    rows = build_rows(data, english_words())
    if args.english:
        print("\n".join(name for name, _, kind in rows if kind == "common"))
        return 0
    text = render(rows, importlib.metadata.version("drug-named-entity-recognition"))
    if args.check:
        same = OUT.read_text(encoding="utf-8") == text
        print("drug_names.tsv is up to date" if same else "drug_names.tsv differs")
        return 0 if same else 1
    OUT.write_text(text, encoding="utf-8")
    kinds = {k: sum(1 for *_, kind in rows if kind == k) for k in ("brand", "common", "other")}
    print(f"wrote {OUT.relative_to(ROOT)}: {len(rows)} names ({kinds})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
