"""Model serving: the model router library and its OpenAI-compatible HTTP service (`model_serving.router`)."""
