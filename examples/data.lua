-- examples/data.lua: test data from a CSV file, shared by every user.
--
--   ./cicada demo-server --port 8080 &
--   ./cicada -f examples/data.lua --headless -u 20 -r 10 -t 30s
--
-- cicada.data.csv() reads examples/data/users.csv once for the whole
-- process (a relative path is looked up in the working directory, then
-- next to this scenario file). Every user of every thread reads the same
-- copy: nothing is copied per user. Options (all optional):
--   header = true      the first row names the columns (row.username ...)
--   separator = ","    one character, e.g. ";" or "\t"
--   cycle = true       next() starts again at the top after the last row;
--                      with false it returns nil once every row is used
-- cicada.data.json("file.json") reads a JSON array the same way.

local users = cicada.data.csv("data/users.csv")
-- #users is the number of rows (without the header); users:columns() the
-- header's names: { "username", "password", "full_name", "favorite_item" }.

Shopper = cicada.user {
  host = "http://127.0.0.1:8080",
  wait_time = cicada.between(0.5, 1.5),
}

function Shopper:on_start()
  -- next() hands out each row once, across all threads: with 20 users or
  -- fewer, no two users log in with the same name. Values are strings.
  self.account = users:next()
  local r = self.client:post("/login", {
    data = { user = self.account.username, password = self.account.password },
    catch_response = true,
  })
  if r.status_code ~= 200 or r:json().user ~= self.account.username then
    r:failure("login as " .. self.account.username .. " failed")
  end
end

-- The user's own favourite item, from its row.
Shopper:task(3, function(self)
  self.client:get("/item/" .. self.account.favorite_item, { name = "/item/[favorite]" })
end)

-- Someone else's favourite: random() picks any row, for every call.
Shopper:task(1, function(self)
  local other = users:random()
  self.client:get("/item/" .. other.favorite_item, { name = "/item/[random]" })
end)

-- get(i) reads row i (1-based) directly: here the first row, always.
Shopper:task(1, function(self)
  self.client:get("/item/" .. users:get(1).favorite_item, { name = "/item/[first]" })
end)
