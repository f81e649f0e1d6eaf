-- wrk script: POST the body in $BODY_FILE with the signature header in $SIGNATURE.
local file = assert(io.open(os.getenv("BODY_FILE"), "rb"))
local body = file:read("*a")
file:close()
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-DriveWidget-Signature"] = os.getenv("SIGNATURE")
