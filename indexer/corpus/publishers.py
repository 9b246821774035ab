"""Who published an article: its corpus record's publisher when it names one, otherwise the
health publisher its source address belongs to, otherwise that address's host.

The table holds the public health publishers the shared corpora come from (MedQuAD's nine
NIH and CDC sources, whose records also carry a source code) and a few of the largest
consumer-health sites readers know by name; each maps to a short name shown on a result
and the full name shown on hovering it.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Publisher:
    """A publisher as a reader sees it: a short name, and the full one."""

    name: str
    full_name: str


# (host, or host and first path segment) -> publisher. Longest match first.
_BY_ADDRESS = {
    "rarediseases.info.nih.gov": Publisher(
        "GARD", "NIH Genetic and Rare Diseases Information Center"),
    "ghr.nlm.nih.gov": Publisher("Genetics Home Reference", "NLM Genetics Home Reference"),
    "medlineplus.gov": Publisher("MedlinePlus", "MedlinePlus, National Library of Medicine"),
    "www.nlm.nih.gov/medlineplus": Publisher(
        "MedlinePlus", "MedlinePlus, National Library of Medicine"),
    "www.nlm.nih.gov": Publisher("NLM", "National Library of Medicine"),
    "www.ninds.nih.gov": Publisher(
        "NINDS", "National Institute of Neurological Disorders and Stroke"),
    "www.niddk.nih.gov": Publisher(
        "NIDDK", "National Institute of Diabetes and Digestive and Kidney Diseases"),
    "www.cancer.gov": Publisher("National Cancer Institute", "National Cancer Institute"),
    "www.nhlbi.nih.gov": Publisher("NHLBI", "National Heart, Lung, and Blood Institute"),
    "www.cdc.gov": Publisher("CDC", "Centers for Disease Control and Prevention"),
    "nihseniorhealth.gov": Publisher("NIHSeniorHealth", "NIHSeniorHealth, National Institutes "
                                     "of Health"),
    "www.nia.nih.gov": Publisher("NIA", "National Institute on Aging"),
    "www.nih.gov": Publisher("NIH", "National Institutes of Health"),
    "www.nhs.uk": Publisher("NHS", "NHS (National Health Service, UK)"),
    "www.who.int": Publisher("WHO", "World Health Organization"),
    "www.mayoclinic.org": Publisher("Mayo Clinic", "Mayo Clinic"),
    "my.clevelandclinic.org": Publisher("Cleveland Clinic", "Cleveland Clinic"),
}
# MedQuAD's source codes (its records' "source" field) -> the same publishers.
_BY_CODE = {
    "GARD": _BY_ADDRESS["rarediseases.info.nih.gov"],
    "GHR": _BY_ADDRESS["ghr.nlm.nih.gov"],
    "MPlusHealthTopics": _BY_ADDRESS["medlineplus.gov"],
    "NINDS": _BY_ADDRESS["www.ninds.nih.gov"],
    "NIDDK": _BY_ADDRESS["www.niddk.nih.gov"],
    "CancerGov": _BY_ADDRESS["www.cancer.gov"],
    "NHLBI": _BY_ADDRESS["www.nhlbi.nih.gov"],
    "CDC": _BY_ADDRESS["www.cdc.gov"],
    "NIHSeniorHealth": _BY_ADDRESS["nihseniorhealth.gov"],
}


def publisher_of(named: str = "", url: str = "") -> Publisher | None:
    """The publisher of an article: what its record names (a known source code, or any
    name), else the known publisher of its address, else the address's host (without
    "www."); None when there is neither."""
    named = " ".join(named.split())
    if named:
        return _BY_CODE.get(named) or Publisher(named, named)
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if not host:
        return None
    first = parts.path.strip("/").split("/", 1)[0].lower()
    found = _BY_ADDRESS.get(f"{host}/{first}") or _BY_ADDRESS.get(host)
    if found is not None:
        return found
    bare = host.removeprefix("www.")
    return Publisher(bare, bare)
