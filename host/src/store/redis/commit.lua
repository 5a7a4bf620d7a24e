-- Commits one call: checks that everything it read is unchanged, then applies
-- its writes; on any difference returns 0 and writes nothing. Redis runs a
-- script atomically, and every check comes before the first write, so a script
-- error (e.g. a key of the wrong type) also leaves nothing half-written.
--
-- ARGV[1..5]: how many present reads, absent reads, listed keys (-1: the call
--             did not list keys), puts and deletes there are
-- ARGV[6]:    the city's key pattern (used only when the call listed keys)
-- KEYS:       present reads, absent reads, listed keys, puts, deletes
-- ARGV[7..]:  the value seen for each present read, then each value to put
local present, absent, listed = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local puts, deletes = tonumber(ARGV[4]), tonumber(ARGV[5])
local k, a = 0, 6

for i = 1, present do
  if redis.call('GET', KEYS[k + i]) ~= ARGV[a + i] then return 0 end
end
k, a = k + present, a + present

for i = 1, absent do
  if redis.call('EXISTS', KEYS[k + i]) == 1 then return 0 end
end
k = k + absent

if listed >= 0 then
  -- Same size and every listed key still there: the same set.
  if #redis.call('KEYS', ARGV[6]) ~= listed then return 0 end
  for i = 1, listed do
    if redis.call('EXISTS', KEYS[k + i]) == 0 then return 0 end
  end
  k = k + listed
end

for i = 1, puts do
  redis.call('SET', KEYS[k + i], ARGV[a + i])
end
k = k + puts
for i = 1, deletes do
  redis.call('DEL', KEYS[k + i])
end
return 1
