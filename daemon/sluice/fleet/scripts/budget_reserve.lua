-- Reserve a call's estimated cost against one namespace's budget window, atomically.
--
-- KEYS[1]  the window's counter: nano-USD committed (spent + reserved) by every pod
-- ARGV[1]  the limit, nano-USD
-- ARGV[2]  the estimate, nano-USD (≥ 0)
-- ARGV[3]  the counter's time to live, ms (set once, when the window's first call creates it)
-- ARGV[4]  "1": admit even at the limit (on_exhausted: cheapest; a reconcile after an outage)
--
-- Returns {granted, committed}: granted 1 or 0; committed after the reservation (or as found).
-- A call is admitted while the committed total is below the limit, so every pod's last
-- admitted call crosses it by at most that call's estimate (the bound the fleet test asserts).
local committed = tonumber(redis.call('GET', KEYS[1]) or '0')
if committed >= tonumber(ARGV[1]) and ARGV[4] ~= '1' then
  return {0, committed}
end
local after = redis.call('INCRBY', KEYS[1], ARGV[2])
-- NX: the first call of a window sets its expiry; later ones must not push it out.
redis.call('PEXPIRE', KEYS[1], ARGV[3], 'NX')
return {1, after}
