"""Route groups of the proxy: tenant OpenAI routes, operator admin routes, health and metrics."""
