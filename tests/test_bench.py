"""The benchmark suite runs end to end on tiny settings: limit, baseline, cache, a real server under
load, py-spy, the report and its plots. The numbers of such a run mean nothing; the code paths do."""

import json

from bench.__main__ import main
from bench.server import batch_size_counts, parse_metrics
from service.record import parse_server_timing


def test_quick_run_writes_the_report_and_its_plots(tmp_path):
    markdown = tmp_path / "BENCHMARKS.md"
    main(["--quick", "--results", str(tmp_path), "--markdown", str(markdown)])

    results = json.loads((tmp_path / "results.json").read_text())
    (level,) = results["service"]["batched"]
    assert level["answered"] > 0 and level["failed"] == 0
    assert level["chunk_throughput"] > 0 and sum(level["batch_sizes"].values()) > 0
    assert results["models"]["bundled-small"]["baseline"]["throughput"] > 0
    assert results["service"]["profile"]["shares"]["model forward"] > 0
    text = markdown.read_text()
    assert "## Goals" in text and "| 2 | " in text  # the service table has its level
    for plot in ("overview", "limit", "service", "short-clips", "batch-sizes", "embedding", "profile"):
        assert (tmp_path / f"{plot}.png").stat().st_size > 1000
        assert f"({plot}.png)" in text


def test_the_gpu_measurements_run_end_to_end_as_a_dry_run_on_this_machine(tmp_path):
    """`make bench-gpu` is `python -m bench --gpu`; with --dry-run the same code runs on a CPU."""
    main(["--gpu", "--dry-run", "--results", str(tmp_path)])
    results = json.loads((tmp_path / "gpu.json").read_text())
    assert results["dry_run"] and results["device"] == "cpu"
    presets = {row["preset"] for row in results["model_alone"] if row["audio_per_second"]}
    assert presets == {"audiosep-base", "bundled-small"}
    assert {row["dtype"] for row in results["agreement"]} == {"bfloat16"}  # float16 needs CUDA
    assert all(row["error_db"] < 0 for row in results["agreement"])
    (level,) = results["service"]["levels"]
    assert level["failed"] == 0 and level["model_alone_at_max_batch"] > 0
    assert "a dry run, the numbers mean nothing" in (tmp_path / "gpu.md").read_text()


def test_batch_sizes_are_the_difference_of_two_scrapes():
    def scrape(buckets: dict[int, int]) -> str:
        lines = [f'textsep_batch_size_bucket{{le="{size}.0"}} {count}' for size, count in buckets.items()]
        return "# TYPE textsep_batch_size histogram\n" + "\n".join(lines) + '\ntextsep_batch_size_bucket{le="+Inf"} 9\n'

    before = parse_metrics(scrape({1: 1, 2: 1, 3: 2}))
    after = parse_metrics(scrape({1: 2, 2: 5, 3: 9}))  # cumulative: 1 more of size 1, 3 of size 2, 3 of size 3
    assert batch_size_counts(before, after) == {1: 1, 2: 3, 3: 3}


def test_server_timing_header_is_read_in_seconds():
    assert parse_server_timing("decode;dur=1.5, embed;dur=0.0, queue;dur=250.0") == {
        "decode": 0.0015,
        "embed": 0.0,
        "queue": 0.25,
    }
