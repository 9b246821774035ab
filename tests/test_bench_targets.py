"""`make bench` holds the default configuration (vectors on) to the cost of words alone."""

from __future__ import annotations

import pytest

from bench.run import parse_args, render_table, targets_for


def figures(default_p95: float, words_p95: float, default_cpu: float, words_cpu: float,
            default_rps: float, words_rps: float) -> dict:
    """Figures of one scale as bench.run keeps them, for the two configurations of ours."""
    def engine(p95: float, cpu: float, rps: float) -> dict:
        return {"search_distinct": {"p95_ms": p95},
                "http_uncached": {"c16": {"server_cpu_ms_per_answer": cpu, "req_per_s": rps,
                                          "shed_share": 0.1, "errors": 0}}}
    return {"ours": engine(default_p95, default_cpu, default_rps),
            "ours-words": engine(words_p95, words_cpu, words_rps)}


def by_name(targets: list[dict], words: str) -> dict:
    """The one target whose name holds `words`."""
    (found,) = [t for t in targets if words in t["target"]]
    return found


@pytest.mark.parametrize(("costs", "status"), [
    ((30, 25, 22, 20, 90, 100), "met"),  # 1.2× the time, 1.1× the CPU, 0.9× the answers
    ((80, 40, 30, 20, 70, 100), "missed"),  # 2×, 1.5×, 0.7×
])
def test_the_cost_of_meaning_is_held_to_ratios_of_words_alone(costs, status):
    opts = parse_args(["--engines", "ours,ours-words"])
    targets = targets_for("100k", 100_000, figures(*costs), opts)
    for name in ("words only: search() p95", "server CPU per uncached question",
                 "uncached HTTP answers/s"):
        assert by_name(targets, name)["status"] == status
    assert by_name(targets, "words only: search() p95")["value"] == costs[0] / costs[1]


def test_ratios_are_not_measured_without_words_only():
    opts = parse_args(["--engines", "ours"])
    targets = targets_for("real-11k", 10_816, {"ours": figures(30, 25, 22, 20, 90, 100)["ours"]},
                          opts)
    assert by_name(targets, "words only: search() p95")["status"] == "not measured"


def test_the_table_puts_the_default_beside_words_only():
    opts = parse_args(["--engines", "ours,ours-words"])
    table = render_table(figures(30, 25, 22, 20, 90, 100), opts)
    header = table.splitlines()[0]
    assert "| ours | ours-words |" in header and "ours ÷ ours-words" in header
    row = next(line for line in table.splitlines() if "server CPU ms per answer" in line)
    assert "1.10×" in row
