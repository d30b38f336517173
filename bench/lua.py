"""wrk Lua scripts for requests that cannot repeat: a fresh token each, a new username each.

Each wrk thread numbers itself in ``setup`` (``thread:set``) and walks only its own slice: thread
``k`` of ``n`` takes tokens ``k+1``, ``k+1+n``, ``k+1+2n``, ... so no token is sent twice.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

# LuaJIT caps the constants of one function, so the token table is built in chunks, one function each
# (each statement starts with ";": a line starting with "(" would otherwise call the line before it).
CHUNK = 5000

_NUMBERED_THREADS = """
local threads = {threads}
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end
local sent = 0
"""


def token_walk(*, method: str, path: str, tokens: Sequence[str], threads: int) -> str:
    """Each request sends the next unused token as ``Authorization: Bearer``; none is ever reused.

    Once a thread's slice is spent it sends ``exhausted`` (a 401, counted as non-2xx).
    """
    chunks = [
        ";(function() local t = {" + ",".join(map(json.dumps, tokens[i : i + CHUNK])) + "} "
        "for _, v in ipairs(t) do tokens[#tokens + 1] = v end end)()"
        for i in range(0, len(tokens), CHUNK)
    ]
    return (
        "tokens = {}\n"
        + "\n".join(chunks)
        + _NUMBERED_THREADS.format(threads=threads)
        + f"""
function request()
  local token = tokens[id + 1 + sent * threads] or "exhausted"
  sent = sent + 1
  return wrk.format("{method}", "{path}", {{["Authorization"] = "Bearer " .. token}}, "")
end
"""
    )


def register_walk(*, path: str, tag: str, password: str, threads: int) -> str:
    """Each request registers a new user, ``r<tag>t<thread>n<count>``, with its own email."""
    return (
        _NUMBERED_THREADS.format(threads=threads)
        + f"""
function request()
  sent = sent + 1
  local name = "r{tag}t" .. id .. "n" .. sent
  local body = '{{"username": "' .. name .. '", "email": "' .. name .. '@example.com", '
    .. '"password": "{password}"}}'
  return wrk.format("POST", "{path}", {{["Content-Type"] = "application/json"}}, body)
end
"""
    )
