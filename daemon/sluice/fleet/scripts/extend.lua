-- Mark something (a provider held off after a 429, a breaker open) for at least ARGV[1] ms.
--
-- KEYS[1]  the mark; its TTL is how long it lasts
-- ARGV[1]  ms
--
-- Only ever lengthens: a pod that saw a shorter Retry-After or cooldown cannot cut another
-- pod's short, and nothing but expiry removes a mark (no pod closes a breaker for the fleet).
-- Returns the mark's TTL after, in ms.
local left = redis.call('PTTL', KEYS[1])
local want = tonumber(ARGV[1])
if left < want then
  redis.call('SET', KEYS[1], '1', 'PX', want)
  return want
end
return left
