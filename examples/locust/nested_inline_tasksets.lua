-- examples/locust/nested_inline_tasksets.lua: Locust's
-- examples/nested_inline_tasksets.py.
--
--   ./cicada -f examples/locust/nested_inline_tasksets.lua --headless -u 5 -r 5 -t 30s -H http://127.0.0.1:8080
--
-- Task sets nest: the user runs TopLevelTaskSet, which picks either the
-- "stats" task or IndexTaskSet; IndexTaskSet requests "/" until its "stop"
-- task calls self:interrupt(), which hands control back to TopLevelTaskSet.
-- Python declares the classes inline; in Lua a task set that is not a
-- global gets its name (shown in the web UI's task list) from `name`.

-- Example of the ability of inline nested task sets
WebsiteUser = cicada.user {
  host = "http://127.0.0.1:8089",
  wait_time = cicada.between(2, 5),
}

local TopLevelTaskSet = cicada.taskset { name = "TopLevelTaskSet" }
WebsiteUser:task(TopLevelTaskSet)

local IndexTaskSet = cicada.taskset { name = "IndexTaskSet" }
TopLevelTaskSet:task(IndexTaskSet)

IndexTaskSet:task(10, function(self) -- index
  self.client:get("/")
end)

IndexTaskSet:task(1, function(self) -- stop
  self:interrupt()
end)

TopLevelTaskSet:task(function(self) -- stats
  self.client:get("/stats/requests")
end)
