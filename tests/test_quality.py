"""The shipped model separates held-out mixtures: a floor on SDRi, so that a regression anywhere in
the stack (network, chunking, text encoder, weights) fails CI."""

from bench.quality import evaluate


def test_bundled_model_quality_floor(bundled, heldout_mixtures):
    result = evaluate(bundled, heldout_mixtures)
    mean = result["mean"]
    print(result)
    assert mean["label query"]["sdri"] > 5.0
    assert mean["held-out caption query"]["sdri"] > 4.0
    # a query for a class that is not in the mixture returns (near) silence
    assert result["absent_query_output_to_mixture_db"] < -6.0
