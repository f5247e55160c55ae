-- prelude_thresholds: pass/fail rules written in the scenario (k6's thresholds).
--
--   cicada.thresholds{
--     "p95<200",                                         -- a rule: METRIC[(NAME)] OP NUMBER
--     "p99(/cart)<=500",
--     { "fail_ratio<0.01", abort = true, grace = 10 },   -- stop the run when it fails,
--   }                                                    -- but not in its first 10 s
--
-- The rules are the same strings as --threshold's (docs/cli.md,
-- "Thresholds"); they add to the command line's. The runner (main thread,
-- standalone or master) reads them once through cicada._thresholds(),
-- checks their grammar (a bad rule stops cicada before the run, naming it)
-- and evaluates them every second. Calling cicada.thresholds again adds
-- more rules.

local cicada = cicada
local rules = {}

function cicada.thresholds(list)
  if type(list) ~= "table" then
    error("cicada.thresholds takes a list of rules, e.g. { \"p95<200\" }", 2)
  end
  for i, r in ipairs(list) do
    if type(r) == "string" then
      rules[#rules + 1] = { expr = r, abort = false, grace = 0 }
    elseif type(r) == "table" and type(r[1]) == "string" then
      local grace = r.grace or 0
      if type(grace) ~= "number" or grace < 0 or grace ~= grace then
        error("cicada.thresholds: rule " .. i .. " (" .. r[1] ..
              "): grace must be a number of seconds >= 0", 2)
      end
      rules[#rules + 1] = { expr = r[1], abort = r.abort and true or false, grace = grace }
    else
      error("cicada.thresholds: rule " .. i ..
            " is neither a string nor { \"RULE\", abort = BOOL, grace = SECONDS }", 2)
    end
  end
end

-- For the runner: the list of { expr, abort, grace }.
function cicada._thresholds()
  return rules
end
