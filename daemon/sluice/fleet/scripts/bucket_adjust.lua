-- Correct a tokens-per-minute bucket once a call's real token count is known.
--
-- KEYS[1]  the bucket (a hash: tokens, ts)
-- ARGV[1]  tokens per minute
-- ARGV[2]  real tokens - the estimate taken (negative: hand the difference back)
--
-- The level stays within [-limit, limit]: an underestimate delays the next calls, it never
-- blocks the provider for more than a minute. Returns the level after, as a string.
local per_minute = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local v = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(v[1]) or per_minute
local ts = tonumber(v[2]) or now
tokens = math.min(per_minute, tokens + math.max(now - ts, 0) * per_minute / 60000)
tokens = math.max(-per_minute, math.min(per_minute, tokens - tonumber(ARGV[2])))
redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', now)
redis.call('PEXPIRE', KEYS[1], 120000)
return tostring(tokens)
