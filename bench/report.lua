-- wrk script for bench.py: sets the method and body from the arguments after "--", counts
-- responses by status in every thread, and prints one machine-readable line when done:
--   BENCH_RESULT {"requests": ..., "duration_us": ..., "p50_us": ..., "p99_us": ..., ...}
-- A third argument names a file of request bodies, one per line, each sent once (codes and
-- refresh tokens are single use): thread i of n sends lines i, i + n, i + 2n, ...

local threads = {}

function setup(thread)
   thread:set("index", #threads)
   table.insert(threads, thread)
end

function init(args)
   statuses = {}
   if args[1] and args[1] ~= "" then
      wrk.method = args[1]
   end
   if args[2] and args[2] ~= "" then
      wrk.body = args[2]
   end
   if args[3] and args[3] ~= "" then
      bodies = {}
      for line in io.lines(args[3]) do
         table.insert(bodies, line)
      end
      step = tonumber(args[4])
      next_body = index + 1
   end
end

function request()
   if bodies then
      local body = bodies[next_body]
      -- Past the end of the pool the request is sent without a body, and fails visibly.
      next_body = next_body + step
      return wrk.format(nil, nil, nil, body)
   end
   return wrk.format()
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
   local counts = {}
   for _, thread in ipairs(threads) do
      for status, count in pairs(thread:get("statuses")) do
         counts[status] = (counts[status] or 0) + count
      end
   end
   local parts = {}
   for status, count in pairs(counts) do
      table.insert(parts, string.format('"%d": %d', status, count))
   end
   local errors = summary.errors
   io.write(string.format(
      'BENCH_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, '
         .. '"socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, '
         .. '"statuses": {%s}}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
      errors.connect, errors.read, errors.write, errors.timeout, table.concat(parts, ", ")
   ))
end
