-- bench/master-capacity: the scenario the cicada master is given. The master
-- runs no users itself; it only needs the class name the simulated workers
-- are told to spawn (SimUser), as a Locust master needs it in locustfile.py.
SimUser = cicada.user {
  host = "http://127.0.0.1:9",
  wait_time = cicada.constant(1),
}

SimUser:task(1, function(self)
  cicada.sleep(1)
end)
