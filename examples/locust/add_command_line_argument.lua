-- examples/locust/add_command_line_argument.lua: Locust's
-- examples/add_command_line_argument.py.
--
--   LOCUST_MY_ARGUMENT=hello ./cicada -f examples/locust/add_command_line_argument.lua --headless -u 1 -t 5s -H http://127.0.0.1:8080
--
-- cicada's command line cannot be extended from a scenario (there is no
-- init_command_line_parser event, and the web UI shows no custom fields):
-- read settings from environment variables with os.getenv instead. The
-- variable keeps Locust's env_var name, so the same CI job drives both.

local my_argument = os.getenv("LOCUST_MY_ARGUMENT") or ""
local my_ui_invisible_argument = os.getenv("LOCUST_MY_UI_INVISIBLE_ARGUMENT") or "I am invisible"

cicada.events.test_start:add_listener(function()
  print("Custom argument supplied: " .. my_argument)
end)

WebsiteUser = cicada.user {
  wait_time = cicada.constant(1), -- Locust's example waits 0 between prints
}

WebsiteUser:task(function(self) -- my_task
  print("my_argument=" .. my_argument)
  print("my_ui_invisible_argument=" .. my_ui_invisible_argument)
end)
