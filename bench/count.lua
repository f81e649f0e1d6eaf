-- wrk script: POST a signed DriveWidget body; each thread stops after $COUNT responses.
local file = assert(io.open(os.getenv("BODY_FILE"), "rb"))
local body = file:read("*a")
file:close()
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-DriveWidget-Signature"] = os.getenv("SIGNATURE")
local limit = tonumber(os.getenv("COUNT"))
local seen = 0
function response(status, headers, body)
  seen = seen + 1
  if seen >= limit then wrk.thread:stop() end
end
