-- The fleet's Redis epoch: a token set once, so pods can tell a Redis that lost its data.
--
-- KEYS[1]  the epoch key
-- ARGV[1]  this pod's candidate token (kept only when the key is missing)
--
-- Returns the epoch in force. A pod that knew another one knows the counters it wrote to
-- are gone (Redis restarted without persistence, or was flushed) and adds its own again.
local current = redis.call('GET', KEYS[1])
if current then
  return current
end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
