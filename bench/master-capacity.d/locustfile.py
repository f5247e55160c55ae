# bench/master-capacity: the locustfile the Locust master is given. It runs
# no users itself; it only needs the class name the simulated workers are
# told to spawn (SimUser), the same as scenario.lua defines for cicada.
from locust import User, constant, task


class SimUser(User):
    wait_time = constant(1)

    @task
    def idle(self):
        pass
