"""The Lua scripts that apply one warning or one transition to the Redis view, atomically.

Warnings and transitions reach the writer on different topics, so they
interleave differently on every run (live, a retried batch, a rebuild's
replay). The view must not depend on that interleaving: each script starts
with a redelivery guard (``SADD`` to the loan's ``seen`` set), decides what it
owns by comparing its record's event time with what the card already holds,
and then runs the same tail (`_CARD_TAIL`): the card's bookkeeping fields,
``top``, the expiry of the loan's keys and the borrower's roll-up, all
recomputed from what Redis now holds rather than from the record. Key layout
and the ordering rule: docs/redis.md.
"""

from __future__ import annotations

from sinks.redis.keys import KLASS_RANK, SEVERITY_WEIGHT

__all__ = ["APPLY_TRANSITION_LUA", "APPLY_WARNING_LUA"]

_WEIGHTS = ", ".join(f"[{name!r}] = {weight}" for name, weight in SEVERITY_WEIGHT.items())
_KLASS_RANK = ", ".join(f"[{name!r}] = {rank}" for name, rank in KLASS_RANK.items())

# Shared by both scripts, after each has set its locals: card, open, recent, seen,
# top, borrower (keys); loan, borrower_id, produced_at (strings); ttl (seconds).
_PRELUDE = (
    """
local weights = {"""
    + _WEIGHTS
    + """}
local klass_rank = {"""
    + _KLASS_RANK
    + """}

-- The card's dpd, bucket and klass come from the newest record, warning or transition,
-- by (event time, source). 'warning:<id>' sorts after 'transition:<id>', so at one instant
-- a warning wins: it carries the state its step ended in. Equal keys re-apply the same
-- values, which changes nothing.
local function take_state(ms, ms_text, by, at, dpd, bucket, klass)
  local cur = redis.call('HMGET', card, 'state_ms', 'state_by', 'event_ms', 'last_warning_id')
  local cur_ms, cur_by = tonumber(cur[1]), cur[2]
  if not cur_ms and cur[3] then
    -- A card written before state_ms existed: its state is its newest warning's.
    cur_ms, cur_by = tonumber(cur[3]), 'warning:' .. cur[4]
  end
  if cur_ms and (ms < cur_ms or (ms == cur_ms and by < cur_by)) then
    return
  end
  redis.call('HSET', card, 'dpd', dpd, 'bucket', bucket, 'klass', klass,
    'state_at', at, 'state_ms', ms_text, 'state_by', by)
end
"""
)

_CARD_TAIL = """
local closed = redis.call('HEXISTS', card, 'closed_by') == 1
local n = redis.call('HLEN', open)
redis.call('HSET', card, 'loan_id', loan, 'borrower_id', borrower_id, 'open_warnings', n)
-- The latest judgement seen, whatever the order the topics were read in.
local updated = redis.call('HGET', card, 'updated_at')
if (not updated) or produced_at > updated then
  redis.call('HSET', card, 'updated_at', produced_at)
end

if n == 0 or closed then
  redis.call('ZREM', top, loan)
else
  local best = 0
  for _, value in ipairs(redis.call('HVALS', open)) do
    local w = weights[cjson.decode(value)['severity']] or 0
    if w > best then best = w end
  end
  local dpd = tonumber(redis.call('HGET', card, 'dpd')) or 0
  if dpd < 0 then dpd = 0 elseif dpd > 999 then dpd = 999 end
  redis.call('ZADD', top, best * 1000 + dpd, loan)
end

-- A quiet (nothing open) or closed loan's keys expire; an open warning keeps them.
for _, key in ipairs({card, open, recent, seen}) do
  if ttl > 0 and (n == 0 or closed) then
    redis.call('EXPIRE', key, ttl)
  else
    redis.call('PERSIST', key)
  end
end

-- The borrower's roll-up: this loan's fields, then aggregates over every loan's.
-- A warning about no borrower (a model's drift, docs/warnings.md) has none.
if borrower_id ~= '' then
  local state = redis.call('HMGET', card, 'dpd', 'klass')
  redis.call('HSET', borrower, 'dpd:' .. loan, state[1], 'klass:' .. loan, state[2],
    'open:' .. loan, n)
  local fields = redis.call('HGETALL', borrower)
  local loans, max_dpd, worst, open_total = 0, 0, -1, 0
  local worst_name = ''
  for i = 1, #fields, 2 do
    local name, value = fields[i], fields[i + 1]
    if string.sub(name, 1, 4) == 'dpd:' then
      loans = loans + 1
      if tonumber(value) > max_dpd then max_dpd = tonumber(value) end
    elseif string.sub(name, 1, 6) == 'klass:' then
      local rank = klass_rank[value] or -1
      if rank > worst then worst, worst_name = rank, value end
    elseif string.sub(name, 1, 5) == 'open:' then
      open_total = open_total + tonumber(value)
    end
  end
  redis.call('HSET', borrower, 'borrower_id', borrower_id, 'loans', loans, 'max_dpd', max_dpd,
    'worst_klass', worst_name, 'open_warnings', open_total)
  -- Loans sit on different partitions, so arrival order is not theirs: keep the latest.
  local seen_at = redis.call('HGET', borrower, 'updated_at')
  if (not seen_at) or produced_at > seen_at then
    redis.call('HSET', borrower, 'updated_at', produced_at)
  end
  if ttl > 0 and open_total == 0 then
    redis.call('EXPIRE', borrower, ttl)
  else
    redis.call('PERSIST', borrower)
  end
end
return 1
"""

APPLY_WARNING_LUA = (
    """
-- KEYS: card, open, recent, seen, team, top, stream, borrower
-- ARGV: 1 loan_id, 2 warning_id, 3 status, 4 body, 5 event_ms, 6 event_time, 7 dpd,
--       8 bucket, 9 klass, 10 produced_at, 11 recent_limit, 12 stream_maxlen,
--       13 severity, 14 owner_team, 15 borrower_id, 16 rule_id, 17 pack_digest,
--       18 score ('' when none), 19 ttl seconds (0: keep forever), 20 terminal (1/0),
--       21 publish to the stream (1/0), 22 team key prefix
local card, open, recent, seen, team, top, stream, borrower =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local loan, wid, status, body = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local event_ms = tonumber(ARGV[5])
local ttl = tonumber(ARGV[19])
local borrower_id, produced_at = ARGV[15], ARGV[10]
"""
    + _PRELUDE
    + """
-- A record already applied (redelivery) changes nothing at all.
if redis.call('SADD', seen, wid .. ':' .. status) == 0 then
  return 0
end

if status == 'open' then
  -- An open redelivered after its resolution must not reopen it, nor may a warning
  -- reopen a loan whose monitoring ended (written off).
  if redis.call('SISMEMBER', seen, wid .. ':resolved') == 0
      and redis.call('HEXISTS', card, 'closed_by') == 0 then
    redis.call('HSET', open, wid, body)
    redis.call('SADD', team, wid)
  end
  if ARGV[21] == '1' then
    redis.call('XADD', stream, 'MAXLEN', '~', ARGV[12], '*',
      'warning_id', wid, 'loan_id', loan, 'severity', ARGV[13], 'owner_team', ARGV[14],
      'body', body)
  end
else
  redis.call('HDEL', open, wid)
  redis.call('SREM', team, wid)
end
redis.call('LPUSH', recent, body)
redis.call('LTRIM', recent, 0, tonumber(ARGV[11]) - 1)

take_state(event_ms, ARGV[5], 'warning:' .. wid, ARGV[6], ARGV[7], ARGV[8], ARGV[9])
-- The newest warning by event time (ties: larger id) names the pack that judged.
local cur = redis.call('HMGET', card, 'event_ms', 'last_warning_id', 'score_ms')
if (not cur[1]) or event_ms > tonumber(cur[1])
    or (event_ms == tonumber(cur[1]) and wid >= cur[2]) then
  redis.call('HSET', card, 'last_warning_at', ARGV[6], 'event_ms', ARGV[5],
    'last_warning_id', wid, 'pack_digest', ARGV[17])
end
-- The latest model score, by event time, from whichever rule read one.
if ARGV[18] ~= '' and ((not cur[3]) or event_ms >= tonumber(cur[3])) then
  redis.call('HSET', card, 'score', ARGV[18], 'score_rule', ARGV[16],
    'score_at', ARGV[6], 'score_ms', ARGV[5])
end

-- A terminal warning (written off) closes the loan: it leaves top and the team sets.
if ARGV[20] == '1' and status == 'open' then
  redis.call('HSET', card, 'closed_by', ARGV[16], 'closed_at', ARGV[6])
  for _, value in ipairs(redis.call('HVALS', open)) do
    local w = cjson.decode(value)
    redis.call('SREM', ARGV[22] .. w['owner_team'], w['warning_id'])
  end
  redis.call('DEL', open)
end
"""
    + _CARD_TAIL
)

APPLY_TRANSITION_LUA = (
    """
-- KEYS: card, open, recent, seen, top, borrower
-- ARGV: 1 loan_id, 2 transition id, 3 body, 4 event_ms, 5 event_time, 6 dpd, 7 bucket,
--       8 klass, 9 produced_at, 10 borrower_id, 11 ttl seconds (0: keep forever)
local card, open, recent, seen, top, borrower =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local loan, tid, body = ARGV[1], 'transition:' .. ARGV[2], ARGV[3]
local event_ms = tonumber(ARGV[4])
local ttl = tonumber(ARGV[11])
local borrower_id, produced_at = ARGV[10], ARGV[9]
"""
    + _PRELUDE
    + """
-- A transition already applied (redelivery, replay) changes nothing at all, not even
-- the expiry of a quiet loan's keys.
if redis.call('SADD', seen, tid) == 0 then
  return 0
end

take_state(event_ms, ARGV[4], tid, ARGV[5], ARGV[6], ARGV[7], ARGV[8])
-- The newest transition by event time (ties: the larger body), for "since when".
local last = redis.call('HMGET', card, 'last_transition_ms', 'last_transition')
if (not last[1]) or event_ms > tonumber(last[1])
    or (event_ms == tonumber(last[1]) and body >= last[2]) then
  redis.call('HSET', card, 'last_transition_at', ARGV[5], 'last_transition_ms', ARGV[4],
    'last_transition', body)
end
"""
    + _CARD_TAIL
)
