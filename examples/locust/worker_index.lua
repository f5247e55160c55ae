-- examples/locust/worker_index.lua: Locust's examples/worker_index.py:
-- each worker reads its own part of the test data.
--
--   ./cicada -f examples/locust/worker_index.lua --headless -u 4 -r 4 -t 10s
--
-- Locust pre-partitions the data into one CSV file per worker
-- (mythings_<worker_index>.csv) and reads it with locust-plugins'
-- CSVDictReader. In cicada one process runs every user on several threads
-- and cicada.data.csv() loads a file once for all of them:
-- * ds:next() hands every row out once across all threads (no partitioning
--   needed), or
-- * self.id (1, 2, 3, ..., unique across threads) picks a fixed row or
--   partition per user, as below.
-- Across master/worker runs each worker process loads its own copy (use a
-- different file per machine, e.g. chosen with os.getenv).

local reader = cicada.data.csv("../data/users.csv")

DemoUser = cicada.user { -- a User, not an HttpUser: no requests
  -- Locust's example has no wait_time (it waits 0); printing in a loop
  -- without a pause would flood the terminal.
  wait_time = cicada.constant(1),
}

DemoUser:task(function(self)
  local thing = reader:next() -- next(self.reader)
  local mine = reader:get((self.id - 1) % reader:len() + 1) -- this user's own row
  print(("user %d: next %s, own %s"):format(self.id, thing.username, mine.username))
end)
