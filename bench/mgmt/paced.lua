-- wrk has no rate option: each connection waits 1000/RATE_PER_CONN ms before each request, so
-- -c4 with 50 requests/s per connection offers about 200 requests/s overall.
local per_conn = tonumber(os.getenv("RATE_PER_CONN") or "50")
function delay()
  return 1000 / per_conn
end
