"""The blueprints: each route parses, calls one service and shapes the response."""
