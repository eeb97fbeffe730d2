"""modelyard server: a model registry served over gRPC."""
