-- Write one pod's bandit statistics (fleet/learning.py) and note the write in the index.
--
-- KEYS[1]  <prefix>:bandit:<policy>:pod:<pod>   the statistics (codec in learning.py)
-- KEYS[2]  <prefix>:bandit:<policy>:pods        ZSET pod → Redis time (ms) of its last write
-- ARGV[1]  the encoded statistics
-- ARGV[2]  their TTL in ms (refreshed by every write: a pod gone that long ages out)
-- ARGV[3]  the pod id
--
-- The score is Redis's clock, one clock for every pod: readers GET a pod's statistics only
-- when its score moved, and index members older than the TTL are pruned here.
-- Returns the score written.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
redis.call('ZADD', KEYS[2], now, ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
return now
