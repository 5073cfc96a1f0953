# SPDX-License-Identifier: MIT
"""Writes a wrk Lua script that POSTs realistic signed inbound webhooks (about 20 parameters)
round-robin, each request with its own I-Twilio-Idempotency-Token (a header: not signed), so
every request is a new message for the ingress."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import twtest as t  # noqa: E402

n = int(sys.argv[2]) if len(sys.argv) > 2 else 256
out = []
for i in range(n):
    sid = "SM%032x" % (i + 1)
    pairs = t.inbound_pairs(sid, body="Hi, is my order %d on its way? Thanks!" % i,
                            frm="+1555%07d" % (i % 50), extra=[
                                ("FromCity", "SAN FRANCISCO"), ("FromState", "CA"),
                                ("FromZip", "94105"), ("FromCountry", "US"), ("ToCity", "OAKLAND"),
                                ("ToState", "CA"), ("ToZip", "94612"), ("SmsSid", sid)])
    body = t.encode_form(pairs)
    sig = t.sign(t.TOKEN, t.WEBHOOK_URL, pairs)
    out.append('{"%s","%s"}' % (body, sig))  # form-encoded: no quote or backslash inside
with open(sys.argv[1], "w") as f:
    f.write('RUN = "%s"\n' % os.urandom(4).hex())
    f.write("local reqs = {%s}\n" % ",\n".join(out))
    f.write("""
local counter = 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function request()
  counter = counter + 1
  local r = reqs[(counter % #reqs) + 1]
  return wrk.format("POST", "/channels/twilio/webhook", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["X-Twilio-Signature"] = r[2],
    ["I-Twilio-Idempotency-Token"] = string.format("bench-%s-%d-%d", RUN, tid, counter),
  }, r[1])
end
function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d errors_status=%d p50_us=%d p99_us=%d duration_us=%d\\n",
    summary.requests, summary.errors.status, latency:percentile(50), latency:percentile(99),
    summary.duration))
end
""")
