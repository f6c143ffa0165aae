"""The REST service around `model.Separator`: HTTP, batching, caching, limits and metrics."""
