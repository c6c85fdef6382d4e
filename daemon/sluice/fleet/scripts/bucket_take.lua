-- Take one call (and its tokens) from a provider's shared rate limits, or say how long to wait.
--
-- KEYS[1]  the provider model's hold (set from a 429's Retry-After; its TTL is the hold)
-- KEYS[2]  the requests-per-minute bucket (a hash: tokens, ts)
-- KEYS[3]  the tokens-per-minute bucket
-- ARGV[1]  requests per minute (0: no such limit)
-- ARGV[2]  tokens per minute (0: no such limit)
-- ARGV[3]  the call's estimated tokens
--
-- Returns 0 when the call may start (both buckets debited), else the wait in ms (nothing
-- debited). The server's clock refills the buckets, so pods' clocks never disagree.
local hold = redis.call('PTTL', KEYS[1])
if hold > 0 then
  return hold
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

-- A bucket's level now: full when its key is absent (an idle minute refills it anyway).
local function level(key, per_minute)
  local v = redis.call('HMGET', key, 'tokens', 'ts')
  local tokens = tonumber(v[1]) or per_minute
  local ts = tonumber(v[2]) or now
  return math.min(per_minute, tokens + math.max(now - ts, 0) * per_minute / 60000)
end

local limits = {{KEYS[2], tonumber(ARGV[1]), 1}, {KEYS[3], tonumber(ARGV[2]), tonumber(ARGV[3])}}
local wait, levels = 0, {}
for i, b in ipairs(limits) do
  if b[2] > 0 then
    -- A call larger than the whole bucket waits for a full one, not forever.
    local need = math.min(b[3], b[2])
    local have = level(b[1], b[2])
    levels[i] = have - need
    if have < need then
      wait = math.max(wait, math.ceil((need - have) * 60000 / b[2]))
    end
  end
end
if wait > 0 then
  return wait
end
for i, b in ipairs(limits) do
  if b[2] > 0 then
    redis.call('HSET', KEYS[i + 1], 'tokens', levels[i], 'ts', now)
    -- Two minutes idle and the bucket is full again: the key is not needed past that.
    redis.call('PEXPIRE', KEYS[i + 1], 120000)
  end
end
return 0
