"""The bench's pure helpers: percentiles, targets and their verdicts, Markdown tables."""
import pytest

from securelogin_local.bench.stats import (
    Target,
    count_calls,
    fmt,
    markdown_table,
    percentile,
    ratio,
    summarize,
    targets_table,
)


def test_percentiles_interpolate_between_ranks():
    samples = [4.0, 1.0, 3.0, 2.0]
    assert percentile(samples, 0) == 1.0
    assert percentile(samples, 100) == 4.0
    assert percentile(samples, 50) == 2.5  # the median
    assert percentile(list(range(1, 101)), 95) == pytest.approx(95.05)
    assert percentile([7.0], 95) == 7.0


def test_percentile_refuses_nothing_and_out_of_range():
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_summary():
    summary = summarize([1.0, 2.0, 3.0, 10.0])
    assert (summary.n, summary.mean, summary.p50, summary.max) == (4, 4.0, 2.5, 10.0)
    assert summary.p50_p95(2) == "2.50 / 8.95"


def test_calls_are_counted_in_the_order_first_made():
    calls = [("dynamodb", "GetItem"), ("dynamodb", "TransactWriteItems"), ("dynamodb", "GetItem"), ("sns", "Publish")]
    assert count_calls(calls) == "dynamodb GetItem x2, dynamodb TransactWriteItems, sns Publish"
    assert count_calls([]) == "none"


def test_an_upper_bound_is_met_at_the_limit_and_says_how_much_to_cut_above_it():
    assert Target("cpu", 10.0, 10.0, "ms").met is True
    over = Target("cpu", 12.5, 10.0, "ms", why="botocore")
    assert over.met is False
    assert over.shortfall() == "1.25x over: cut 20%"
    assert over.verdict() == "**short**: 1.25x over: cut 20%. botocore"


def test_a_lower_bound_says_how_much_more_is_needed():
    under = Target("throughput", 1.6, 2.0, "x", at_least=True)
    assert under.met is False
    assert under.verdict() == "**short**: needs 1.25x more (+25%)"
    assert Target("throughput", 2.4, 2.0, "x", at_least=True).verdict() == "met"
    assert Target("throughput", 0.0, 2.0, at_least=True).shortfall() == "nothing measured"


def test_an_unmeasured_target_says_why():
    missing = Target("peer", None, 2.0, at_least=True, missing="peer not set up")
    assert missing.met is None
    assert missing.verdict() == "not measured: peer not set up"


def test_targets_table():
    table = targets_table([Target("cpu", 12.5, 10.0, "ms"), Target("x", 3.0, 2.0, "x", at_least=True)])
    assert table.splitlines() == [
        "| target | limit | measured | verdict |",
        "|---|---|---|---|",
        "| cpu | ≤ 10.0 ms | 12.5 ms | **short**: 1.25x over: cut 20% |",
        "| x | ≥ 2.00 x | 3.00 x | met |",
    ]


def test_markdown_table_escapes_pipes_and_checks_widths():
    assert markdown_table([["a", "b"], ["x|y", 1]]) == "| a | b |\n|---|---|\n| x\\|y | 1 |"
    assert markdown_table([]) == ""
    with pytest.raises(ValueError):
        markdown_table([["a", "b"], ["only one"]])


def test_numbers_keep_three_significant_digits_or_so():
    assert fmt(None) == "-"
    assert (fmt(1234.5), fmt(12.345), fmt(1.2345)) == ("1234", "12.3", "1.23")
    assert fmt(5.0, "ms") == "5.00 ms"


def test_ratio():
    assert ratio(3.0, 2.0) == 1.5
    assert ratio(None, 2.0) is None
    assert ratio(1.0, 0) is None
