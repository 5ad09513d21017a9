-- GCRA over several limits in one atomic call; mirrors gcra.py (see its docstring).
-- KEYS[i]   the TAT of limit i (integer microseconds)
-- ARGV[1]   now in microseconds, or "" to use the server's TIME (one clock for all workers)
-- ARGV[2]   cost of this request
-- ARGV[1+2i], ARGV[2+2i]   interval and tolerance (interval * burst) of limit i, in µs
-- Returns, per limit: allowed (0/1), remaining, retry_after_us, reset_after_us.
-- Nothing is written unless every limit allows the request.
local SLACK = 1
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local cost = tonumber(ARGV[2])
local stored = redis.call('MGET', unpack(KEYS))
local tats, new_tats, fits, all_fit = {}, {}, {}, true
for i = 1, #KEYS do
  local interval, tolerance = tonumber(ARGV[1 + 2 * i]), tonumber(ARGV[2 + 2 * i])
  tats[i] = math.max(tonumber(stored[i]) or now, now)
  new_tats[i] = math.floor(tats[i] + interval * cost + 0.5)
  fits[i] = new_tats[i] - now <= tolerance + SLACK
  all_fit = all_fit and fits[i]
end
local result = {}
for i = 1, #KEYS do
  local interval, tolerance = tonumber(ARGV[1 + 2 * i]), tonumber(ARGV[2 + 2 * i])
  local backlog, wait = tats[i] - now, 0
  if all_fit then
    backlog = new_tats[i] - now
    redis.call('SET', KEYS[i], string.format('%.0f', new_tats[i]),
               'PX', math.max(1, math.ceil(backlog / 1000)))
  elseif not fits[i] then
    wait = new_tats[i] - tolerance - now
  end
  local remaining = 0
  if wait <= 0 then
    remaining = math.max(0, math.floor((tolerance + SLACK - backlog) / interval))
  end
  local allowed = 0
  if wait <= 0 then allowed = 1 end
  result[#result + 1] = allowed
  result[#result + 1] = remaining
  result[#result + 1] = math.ceil(wait)
  result[#result + 1] = math.ceil(backlog)
end
return result
