-- wrk script: POST the signed body in $BODY_FILE ($SIGNATURE) at a fixed total rate of $RATE requests a
-- second, however many connections carry it. Each of wrk's threads hands out send times $THREADS/$RATE
-- seconds apart; a connection that has its answer takes the next free time and waits for it (wrk's
-- delay()). So the rate does not depend on latency, and with more connections each one simply sends
-- less often. If every connection is busy when its time comes, the achieved rate falls below $RATE,
-- which wrk's Requests/sec shows.
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clock, bench_timespec *now);
]]
local now_buffer = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, now_buffer) -- CLOCK_MONOTONIC
  return tonumber(now_buffer.tv_sec) * 1000 + tonumber(now_buffer.tv_nsec) / 1e6
end

local file = assert(io.open(os.getenv("BODY_FILE"), "rb"))
local body = file:read("*a")
file:close()
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-DriveWidget-Signature"] = os.getenv("SIGNATURE")

local interval_ms = tonumber(os.getenv("THREADS")) * 1000 / tonumber(os.getenv("RATE"))
local next_send = nil

function delay()
  local now = now_ms()
  if next_send == nil or next_send < now then next_send = now end
  local wait = next_send - now
  next_send = next_send + interval_ms
  -- wrk waits whole milliseconds: round up or down at random, so the waits average out exact.
  local whole = math.floor(wait)
  if math.random() < wait - whole then whole = whole + 1 end
  return whole
end
