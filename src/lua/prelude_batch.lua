-- prelude_batch: client:batch, several requests of one user at once (k6's
-- http.batch). The C half is src/lua/batch.c: extra HTTP clients (slots)
-- per user, client:_batch_send (send on a slot without waiting) and
-- cicada._batch_wait (park until one completes). Here: checking the
-- entries, the per-origin limit, the queue, the order of the results.

local cicada, pcall, error, type, ipairs = cicada, pcall, error, type, ipairs

-- client:batch{ {"GET", "/a", name = "a"}, {"POST", "/b", json = {...}}, "/c" }:
-- send the requests at once, at most `parallel` (default 6, as browsers)
-- in flight per origin and 16 in all, each on a connection of its own, and
-- return their responses in the order given when all are done (k6's
-- http.batch). Each entry is a URL (a GET) or {method, url, options...}
-- with the options of client:request; each is recorded under its own
-- name as it completes.
local batch_begin, batch_wait, batch_end = cicada._batch_begin, cicada._batch_wait, cicada._batch_end
local BATCH_SLOTS = 16

-- The origin of an entry's URL, as written (scheme://host[:port]); a
-- path is on the client's base URL.
local function batch_origin(q, base)
  local url = type(q) == "string" and q or q[2]
  return (url:match("^%a[%w+.-]*://[^/?#]+") or base):lower()
end

-- How many slots the batch can use at once: per origin min(its requests,
-- parallel), 16 in all.
local function batch_width(origins, parallel)
  local per, width = {}, 0
  for _, o in ipairs(origins) do
    local k = per[o] or 0
    if k < parallel then width = width + 1 end
    per[o] = k + 1
  end
  return math.min(width, BATCH_SLOTS)
end

local function batch_send(client, q, s, i)
  if type(q) == "string" then return client:_batch_send("GET", q, nil, s, i) end
  return client:_batch_send(q[1], q[2], q, s, i)
end

local function batch_run(client, reqs, origins, parallel, width, out)
  local queue, free, busy, per = {}, {}, {}, {}   -- busy: slot -> origin
  for i = 1, #reqs do queue[i] = i end
  for s = width, 1, -1 do free[#free + 1] = s end
  local inflight = 0
  while #queue > 0 or inflight > 0 do
    -- the first waiting requests whose origin has room, in the order given
    local k = 1
    while k <= #queue and #free > 0 do
      local i = queue[k]
      local o = origins[i]
      if (per[o] or 0) < parallel then
        table.remove(queue, k)
        local s = table.remove(free)
        local r = batch_send(client, reqs[i], s, i)
        if r ~= nil then          -- failed at once: the slot is free again
          out[i] = r
          free[#free + 1] = s
        else
          inflight, per[o], busy[s] = inflight + 1, (per[o] or 0) + 1, o
        end
      else
        k = k + 1
      end
    end
    if inflight > 0 then
      local s, i, r = batch_wait()
      out[i] = r
      inflight, per[busy[s]], busy[s] = inflight - 1, per[busy[s]] - 1, nil
      free[#free + 1] = s
    end
  end
end

local function check_batch(reqs, opts)
  if type(reqs) ~= "table" then
    error("client:batch takes a list of requests: self.client:batch{ {\"GET\", \"/a\"}, ... }", 3)
  end
  for i, q in ipairs(reqs) do
    if type(q) == "table" then
      if type(q[1]) ~= "string" or type(q[2]) ~= "string" then
        error(("client:batch: request %d must be {method, url, options...}"):format(i), 3)
      end
      if q.catch_response then
        error(("client:batch: request %d: catch_response is not available in a batch " ..
               "(check the responses it returns)"):format(i), 3)
      end
    elseif type(q) ~= "string" then
      error(("client:batch: request %d must be a URL or {method, url, options...}"):format(i), 3)
    end
  end
  local parallel = opts ~= nil and opts.parallel or 6
  if type(parallel) ~= "number" or parallel < 1 or parallel > 16 or parallel % 1 ~= 0 then
    error("client:batch: parallel must be a whole number from 1 to 16, got " .. tostring(parallel), 3)
  end
  return parallel
end

function cicada._client_methods.batch(client, reqs, opts)
  if type(client) ~= "table" then
    error("client methods take the client first: self.client:batch{...}, with a colon", 2)
  end
  local parallel = check_batch(reqs, opts)
  local out = {}
  if #reqs == 0 then return out end
  local origins = {}
  local base = (tostring(client.base_url or "")):match("^%a[%w+.-]*://[^/?#]+") or ""
  for i, q in ipairs(reqs) do origins[i] = batch_origin(q, base) end
  local width = batch_width(origins, parallel)
  batch_begin(width)
  local ok, err = pcall(batch_run, client, reqs, origins, parallel, width, out)
  if not ok then
    batch_end()     -- what is still in flight is cut
    error(err, 0)
  end
  return out
end
