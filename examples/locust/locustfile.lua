-- examples/locust/locustfile.lua: Locust's quick-start examples/locustfile.py.
--
--   ./cicada -f examples/locust/locustfile.lua --headless -u 5 -r 5 -t 30s -H http://127.0.0.1:8080
--
-- QuickstartUser has no host: pass one with -H. (The demo site has no
-- /hello, /world or /item?id=: those are 404 failures there.)

QuickstartUser = cicada.user {
  wait_time = cicada.between(1, 2),
}

-- @task
QuickstartUser:task(function(self)
  self.client:get("/hello")
  self.client:get("/world")
end)

-- @task(3); time.sleep(1) becomes cicada.sleep(1), which parks this user only
QuickstartUser:task(3, function(self)
  for item_id = 0, 9 do
    self.client:get("/item?id=" .. item_id, { name = "/item" })
    cicada.sleep(1)
  end
end)

function QuickstartUser:on_start()
  self.client:post("/login", { json = { username = "foo", password = "bar" } })
end
