-- Settle a reservation: add (real cost - estimate), negative when the call cost less
-- (a failed call settles at 0, handing its whole estimate back).
--
-- KEYS[1]  the window's counter (the one the reservation was made in)
-- ARGV[1]  the difference, nano-USD
--
-- Returns the committed total after, or false when the window's counter has expired:
-- that window is over, and recreating its key would leave one without an expiry.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return false
end
return redis.call('INCRBY', KEYS[1], ARGV[1])
