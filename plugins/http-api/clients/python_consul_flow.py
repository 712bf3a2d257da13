#!/usr/bin/env python3
"""python-consul (Debian's python3-consul), unmodified, against a running Herald agent.

Usage: python3 python_consul_flow.py <http-port>

Runs the client's agent, catalog and health calls in the order an application uses them
(register a service with a TTL check, pass it, read the catalog and health with passing=True,
block on the catalog, fail the check, deregister) and prints one JSON object per step:
{"step", "ok", "got", "expected"}. The client sends lowercase JSON keys (name, id, port, tags,
check.ttl, serviceid, notes): Consul decodes bodies case-insensitively, so must Herald.

Each step also lists the HTTP requests the client made for it ("http": ["GET /v1/... -> 405"]),
observed through a response hook on the client's requests session (the client itself is not
changed), so a mismatch shows the verb, path and status that caused it.

Every step runs even after a failure, so one run shows every mismatch. The last line is
{"summary": {"ok", "failed": [...], "client_version"}}. Exit status: 0 all steps matched,
1 some step did not, 3 the consul module is missing.
"""
import json
import sys
import threading

from consul_flow_steps import Flow

try:
    import consul
except ImportError as exc:  # pragma: no cover - the environment, not the code
    print(json.dumps({"summary": {"ok": False, "failed": ["import"],
                                  "error": "python3-consul is not installed (apt-get install python3-consul): %s" % exc}}))
    sys.exit(3)

SERVICE = "web"
SERVICE_ID = "web-py-1"
# Consul names a service's single embedded check "service:<service id>"; clients rely on it.
CHECK_ID = "service:" + SERVICE_ID
EXTRA_CHECK = "py-extra"

flow = Flow()
step = flow.step


def is_true(got):
    return None if got is True else True


def main():
    port = int(sys.argv[1])
    c = consul.Consul(host="127.0.0.1", port=port)
    c.http.session.hooks["response"].append(flow.observe)

    step("agent.self Config.Datacenter",
         lambda: c.agent.self()["Config"]["Datacenter"],
         lambda dc: None if isinstance(dc, str) and dc else "a datacenter name")

    step("agent.service.register with Check.ttl (lowercase keys)",
         lambda: c.agent.service.register(SERVICE, service_id=SERVICE_ID, address="10.3.0.1", port=8080,
                                          tags=["py", "v1"], check=consul.Check.ttl("10s")),
         is_true)

    step("agent.services has the service",
         lambda: {k: [v["Service"], v["Port"], sorted(v["Tags"]), v["Address"]]
                  for k, v in c.agent.services().items() if k == SERVICE_ID},
         lambda got: None if got == {SERVICE_ID: [SERVICE, 8080, ["py", "v1"], "10.3.0.1"]}
         else {SERVICE_ID: [SERVICE, 8080, ["py", "v1"], "10.3.0.1"]})

    step("agent.checks has the TTL check, critical until passed",
         lambda: {k: [v["Status"], v["ServiceID"]] for k, v in c.agent.checks().items() if k == CHECK_ID},
         lambda got: None if got == {CHECK_ID: ["critical", SERVICE_ID]} else {CHECK_ID: ["critical", SERVICE_ID]})

    step("agent.check.register with serviceid/notes (lowercase keys)",
         lambda: c.agent.check.register(EXTRA_CHECK, check=consul.Check.ttl("30s"), check_id=EXTRA_CHECK,
                                        notes="registered by python-consul", service_id=SERVICE_ID),
         is_true)

    step("agent.checks links the extra check to the service",
         lambda: {k: [v["ServiceID"], v["Notes"]] for k, v in c.agent.checks().items() if k == EXTRA_CHECK},
         lambda got: None if got == {EXTRA_CHECK: [SERVICE_ID, "registered by python-consul"]}
         else {EXTRA_CHECK: [SERVICE_ID, "registered by python-consul"]})

    step("health.service passing=True is empty while critical",
         lambda: c.health.service(SERVICE, passing=True)[1],
         lambda nodes: None if nodes == [] else [])

    step("agent.check.ttl_pass (service check)", lambda: c.agent.check.ttl_pass(CHECK_ID, notes="ok"), is_true)
    step("agent.check.ttl_pass (extra check)", lambda: c.agent.check.ttl_pass(EXTRA_CHECK), is_true)

    index = step("catalog.services lists the service and its tags",
                 lambda: c.catalog.services(),
                 lambda got: None if SERVICE in got[1] and sorted(got[1][SERVICE]) == ["py", "v1"] and "consul" in got[1]
                 and int(got[0]) > 0 else "(index > 0, {consul: [], web: [py, v1]})")

    step("health.service passing=True has the instance",
         lambda: [[n["Service"]["ID"], n["Service"]["Port"], sorted(ch["Status"] for ch in n["Checks"])]
                  for n in c.health.service(SERVICE, passing=True)[1]],
         lambda got: None if len(got) == 1 and got[0][0] == SERVICE_ID and got[0][1] == 8080
         and set(got[0][2]) == {"passing"} else [[SERVICE_ID, 8080, ["passing", "..."]]])

    # A blocking catalog read (index from the last answer) while a second thread registers
    # another service: it returns with the new service and a higher X-Consul-Index, which the
    # client reads from the response headers. (Whether it parked first depends on the thread
    # race; prometheus-sd.test.ts proves the parking.)
    if index is not None:
        other = consul.Consul(host="127.0.0.1", port=port)  # requests sessions are not thread-safe
        other.http.session.hooks["response"].append(flow.observe)
        t = threading.Thread(target=lambda: other.agent.service.register("py-other", service_id="py-other-1", port=9000))

        def blocking_read():
            t.start()
            got = c.catalog.services(index=index[0], wait="10s")
            t.join()
            return got
        step("catalog.services(index, wait) returns with a higher index after a registration",
             blocking_read,
             lambda got: None if int(got[0]) > int(index[0]) and "py-other" in got[1]
             else "index > %s and py-other listed" % index[0])

    step("agent.check.ttl_fail", lambda: c.agent.check.ttl_fail(CHECK_ID, notes="down"), is_true)
    step("health.service passing=True is empty after ttl_fail",
         lambda: c.health.service(SERVICE, passing=True)[1],
         lambda nodes: None if nodes == [] else [])
    step("health.service (no passing) still lists the critical instance",
         lambda: [[n["Service"]["ID"], [ch["Status"] for ch in n["Checks"] if ch["CheckID"] == CHECK_ID]]
                  for n in c.health.service(SERVICE)[1]],
         lambda got: None if got == [[SERVICE_ID, ["critical"]]] else [[SERVICE_ID, ["critical"]]])

    step("agent.service.deregister", lambda: c.agent.service.deregister(SERVICE_ID), is_true)
    step("agent.services no longer has it",
         lambda: SERVICE_ID in c.agent.services(),
         lambda present: None if present is False else False)
    step("agent.checks lost the service's checks",
         lambda: sorted(k for k in c.agent.checks() if k in (CHECK_ID, EXTRA_CHECK)),
         lambda got: None if got == [] else [])
    step("health.service is empty after deregister",
         lambda: c.health.service(SERVICE)[1],
         lambda nodes: None if nodes == [] else [])
    step("agent.service.deregister py-other", lambda: c.agent.service.deregister("py-other-1"), is_true)

    return flow.summary(client_file=consul.__file__)


if __name__ == "__main__":
    sys.exit(main())
