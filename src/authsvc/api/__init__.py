"""HTTP layer: blueprints that parse, call one service, and shape the response."""
