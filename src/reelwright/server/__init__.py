"""The studio: `reelwright serve` (the Agent Mode page, the REST API, `/v1/videos`, MCP over HTTP) and
`reelwright mcp` (MCP over stdio), over one durable SQLite job queue in REELWRIGHT_HOME.

Needs the `web` extra: pip install 'reelwright[web]'."""
