"""The relevance metrics of `make eval` on hand-computed examples (pure functions, no data)."""

from __future__ import annotations

import math

import pytest

from bench.eval import (
    dcg,
    mean_metrics,
    mrr_at_k,
    ndcg_at_k,
    paired_bootstrap,
    query_metrics,
    recall_at_k,
    tied_known_item_ceiling,
)

JUDGED = {"a": 2, "b": 1, "c": 0}  # c is judged but not relevant


def test_dcg_discounts_by_log2_of_rank_plus_one():
    assert dcg([3, 2, 0, 1]) == pytest.approx(3 + 2 / math.log2(3) + 0 + 1 / math.log2(5))
    assert dcg([]) == 0


def test_ndcg_is_one_for_the_ideal_order_and_less_otherwise():
    assert ndcg_at_k(["a", "b", "x"], JUDGED) == pytest.approx(1.0)
    ideal = 2 + 1 / math.log2(3)
    # b first, then an unjudged doc, then a: (1 + 2/log2(4)) / ideal
    assert ndcg_at_k(["b", "x", "a"], JUDGED) == pytest.approx((1 + 2 / 2) / ideal)


def test_ndcg_counts_only_the_top_k_and_zero_without_relevant_documents():
    assert ndcg_at_k(["x", "a"], JUDGED, k=1) == 0.0
    assert ndcg_at_k(["c", "x"], {"c": 0}) == 0.0
    assert ndcg_at_k([], JUDGED) == 0.0


def test_ndcg_ideal_is_cut_at_k():
    judged = {f"d{i}": 1 for i in range(12)}
    # Ten relevant docs in the top ten is perfect even though twelve are relevant.
    assert ndcg_at_k([f"d{i}" for i in range(10)], judged) == pytest.approx(1.0)


def test_mrr_is_the_reciprocal_rank_of_the_first_relevant_document():
    assert mrr_at_k(["c", "x", "b", "a"], JUDGED) == pytest.approx(1 / 3)
    assert mrr_at_k(["a"], JUDGED) == 1.0
    assert mrr_at_k(["c", "x"], JUDGED) == 0.0
    assert mrr_at_k([f"x{i}" for i in range(10)] + ["a"], JUDGED) == 0.0  # rank 11 > k
    assert mrr_at_k(["b", "a"], JUDGED, level=2) == pytest.approx(1 / 2)


def test_recall_is_the_share_of_relevant_documents_found_in_the_top_k():
    assert recall_at_k(["a", "c", "x"], JUDGED) == pytest.approx(1 / 2)
    assert recall_at_k(["b", "a"], JUDGED) == 1.0
    assert recall_at_k(["x", "a"], JUDGED, k=1) == 0.0
    assert recall_at_k(["c"], {"c": 0}) == 0.0


def test_query_and_mean_metrics():
    one = query_metrics(["a", "b"], JUDGED)
    assert one == {"nDCG@10": pytest.approx(1.0), "MRR@10": 1.0, "R@100": 1.0}
    two = query_metrics(["x"], JUDGED)
    assert mean_metrics([one, two]) == {"nDCG@10": pytest.approx(0.5), "MRR@10": 0.5,
                                        "R@100": 0.5}
    assert mean_metrics([]) == {"nDCG@10": 0.0, "MRR@10": 0.0, "R@100": 0.0}


def test_a_paired_bootstrap_interval_holds_a_consistent_lead_above_zero():
    ours = {f"q{i}": 0.5 + 0.01 * (i % 3) for i in range(200)}
    peer = {q: v - 0.05 for q, v in ours.items()}
    diff, low, high = paired_bootstrap(ours, peer)
    assert diff == pytest.approx(0.05) and low == pytest.approx(0.05) == high


def test_a_paired_bootstrap_interval_straddles_zero_for_a_coin_flip_difference():
    ours = {f"q{i}": float(i % 2) for i in range(200)}
    peer = {f"q{i}": float((i + 1) % 2) for i in range(200)}
    diff, low, high = paired_bootstrap(ours, peer)
    assert diff == 0 and low < 0 < high


def test_tied_known_item_ceiling_is_the_mean_reciprocal_rank_of_a_random_order_among_ties():
    assert tied_known_item_ceiling([1, 1]) == 1.0
    # Two documents ask it: rank 1 or 2 with even chance.
    assert tied_known_item_ceiling([2]) == pytest.approx((1 + 1 / 2) / 2)
    assert tied_known_item_ceiling([1, 3]) == pytest.approx((1 + (1 + 1 / 2 + 1 / 3) / 3) / 2)
    # Beyond rank k a find counts nothing.
    assert tied_known_item_ceiling([20], k=10) == pytest.approx(sum(1 / i for i in range(1, 11))
                                                                / 20)
    assert tied_known_item_ceiling([]) == 0.0
