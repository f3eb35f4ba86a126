"""HTTP/1.1 on asyncio + httptools: the server core every modelplane process serves with, and (for
the router and probes) a keep-alive client pool. Below every other package but spec."""
