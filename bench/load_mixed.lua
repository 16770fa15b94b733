-- wrk script for bench/load_mixed.py: 80% GETs over the main pages, 20% routing edits.
-- bench/load_mixed.py writes the first lines (the session cookie, the CSRF token, the pages,
-- the tenants) above this text; each connection shares the one signed-in session.
local threads = {}
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_id", thread_count)
  table.insert(threads, thread)
end

function init(args)
  sent_posts = 0
  accepted_posts = 0
  refused = 0
  counter = 0
  math.randomseed(thread_id * 7919 + os.time())
  headers = {}
  headers["Cookie"] = COOKIE
  headers["X-CSRFToken"] = CSRF
  headers["Referer"] = ORIGIN .. "/"
end

function request()
  counter = counter + 1
  if math.random() < EDIT_SHARE then
    sent_posts = sent_posts + 1
    local tenant = TENANTS[math.random(#TENANTS)]
    local email = string.format("%s-%d-%d@load.example", RUN, thread_id, counter)
    local post = {}
    for k, v in pairs(headers) do post[k] = v end
    post["Content-Type"] = "application/x-www-form-urlencoded"
    local body = "csrfmiddlewaretoken=" .. CSRF .. "&value=" .. email:gsub("@", "%%40")
    return wrk.format("POST", "/sso/routing/tenants/" .. tenant .. "/user/add/", post, body)
  end
  return wrk.format("GET", PAGES[math.random(#PAGES)], headers)
end

function response(status, headers, body)
  -- GETs answer 200; an accepted edit answers 302 (back to the tenant's routing lists).
  if status == 302 then
    accepted_posts = accepted_posts + 1
  elseif status ~= 200 then
    refused = refused + 1
  end
end

function done(summary, latency, requests)
  local sent, accepted, bad = 0, 0, 0
  for _, thread in ipairs(threads) do
    sent = sent + thread:get("sent_posts")
    accepted = accepted + thread:get("accepted_posts")
    bad = bad + thread:get("refused")
  end
  io.write(string.format("LOAD_RESULT requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d "
    .. "posts_sent=%d posts_302=%d other_status=%d connect=%d read=%d write=%d timeout=%d status=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, sent, accepted, bad, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout, summary.errors.status))
end
