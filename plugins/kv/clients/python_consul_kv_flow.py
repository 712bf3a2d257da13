#!/usr/bin/env python3
"""python-consul (Debian's python3-consul), unmodified, against a running Herald agent's KV and
sessions.

Usage: python3 python_consul_kv_flow.py <http-port>

Runs the client's kv and session calls the way applications use them and prints one JSON
object per step: {"step", "ok", "got", "expected", "http"}; "http" lists the requests the
client made for the step (`METHOD path?query -> status`), seen through a response hook on the
client's requests session (the client itself is not changed).

KV: put/get/delete with recurse, cas, flags, keys with a separator, and an index-based blocking
get that a write from another thread wakes. Sessions: create (empty body, then lowercase keys),
info, list, node, renew, destroy. Locks: two sessions, acquire by one, refused acquire by the
other, release, acquire by the other; destroying a behavior=delete session deletes its key.

Every step runs even after a failure. The last line is {"summary": {"ok", "failed": [...]}}.
Exit status: 0 all steps matched, 1 some did not, 3 the consul module is missing.
"""
import json
import sys
import threading
import time

from consul_flow_steps import Flow

try:
    import consul
except ImportError as exc:  # pragma: no cover - the environment, not the code
    print(json.dumps({"summary": {"ok": False, "failed": ["import"],
                                  "error": "python3-consul is not installed (apt-get install python3-consul): %s" % exc}}))
    sys.exit(3)

BIG_FLAGS = 3304740253564472344  # above 2**53: must survive the round trip exactly

flow = Flow()
step = flow.step


def equals(want):
    return lambda got: None if got == want else want


def main():
    port = int(sys.argv[1])
    c = consul.Consul(host="127.0.0.1", port=port)
    c.http.session.hooks["response"].append(flow.observe)
    node = c.agent.self()["Config"]["NodeName"]

    # --- KV ---
    step("kv.put a value", lambda: c.kv.put("py/app/name", "web"), equals(True))
    step("kv.put with flags above 2^53", lambda: c.kv.put("py/app/flags", "f", flags=BIG_FLAGS), equals(True))
    step("kv.put binary value", lambda: c.kv.put("py/app/bin", b"\x00\x01\xff"), equals(True))
    step("kv.put None (an empty value)", lambda: c.kv.put("py/app/empty/", None), equals(True))
    step("kv.get one key: Value decoded, index > 0",
         lambda: (lambda r: [int(r[0]) > 0, r[1]["Key"], r[1]["Value"], r[1]["Flags"]])(c.kv.get("py/app/name")),
         equals([True, "py/app/name", b"web", 0]))
    step("kv.get flags exact", lambda: c.kv.get("py/app/flags")[1]["Flags"], equals(BIG_FLAGS))
    step("kv.get binary value", lambda: c.kv.get("py/app/bin")[1]["Value"], equals(b"\x00\x01\xff"))
    step("kv.get empty value is None", lambda: c.kv.get("py/app/empty/")[1]["Value"], equals(None))
    step("kv.get missing key: (index, None), index still read on the 404",
         lambda: (lambda r: [int(r[0]) > 0, r[1]])(c.kv.get("py/app/missing")),
         equals([True, None]))
    step("kv.get recurse lists the prefix sorted",
         lambda: [e["Key"] for e in c.kv.get("py/app/", recurse=True)[1]],
         equals(["py/app/bin", "py/app/empty/", "py/app/flags", "py/app/name"]))
    c.kv.put("py/app/sub/deep/x", "1")
    step("kv.get keys with separator folds at /",
         lambda: c.kv.get("py/app/", keys=True, separator="/")[1],
         equals(["py/app/bin", "py/app/empty/", "py/app/flags", "py/app/name", "py/app/sub/"]))
    step("kv.get keys without separator lists every key",
         lambda: c.kv.get("py/app/sub", keys=True)[1],
         equals(["py/app/sub/deep/x"]))

    mi = c.kv.get("py/app/name")[1]["ModifyIndex"]
    step("kv.put cas with a stale index is refused", lambda: c.kv.put("py/app/name", "x", cas=mi - 1), equals(False))
    step("kv.put cas=0 on an existing key is refused", lambda: c.kv.put("py/app/name", "x", cas=0), equals(False))
    step("kv.put cas with the ModifyIndex succeeds", lambda: c.kv.put("py/app/name", "web2", cas=mi), equals(True))
    step("kv.put cas=0 creates a missing key", lambda: c.kv.put("py/app/new", "n", cas=0), equals(True))
    mi2 = c.kv.get("py/app/name")[1]["ModifyIndex"]
    step("kv.delete cas with a stale index is refused", lambda: c.kv.delete("py/app/name", cas=mi), equals(False))
    step("kv.delete cas with the ModifyIndex deletes",
         lambda: [c.kv.delete("py/app/name", cas=mi2), c.kv.get("py/app/name")[1]],
         equals([True, None]))

    # Blocking get: park on the key's index; another thread (its own client: requests sessions
    # are not thread-safe) writes it; the read returns with the new value and a higher index.
    index, _ = c.kv.get("py/watch")
    other = consul.Consul(host="127.0.0.1", port=port)
    other.http.session.hooks["response"].append(flow.observe)

    def blocking_get():
        def write_later():
            time.sleep(0.3)
            other.kv.put("py/watch-other", "unrelated")
            time.sleep(0.3)
            other.kv.put("py/watch", "changed")
        t = threading.Thread(target=write_later)
        started = time.time()
        t.start()
        idx, data = c.kv.get("py/watch", index=index, wait="10s")
        t.join()
        return [int(idx) > int(index), data["Value"] if data else None, time.time() - started >= 0.5]
    step("kv.get(index, wait) wakes on a write to the key, not before", blocking_get, equals([True, b"changed", True]))

    step("kv.delete recurse removes the prefix",
         lambda: [c.kv.delete("py/app/", recurse=True), c.kv.get("py/app/", recurse=True)[1]],
         equals([True, None]))

    # --- sessions ---
    s_empty = step("session.create with no options (empty body)", lambda: c.session.create(),
                   lambda sid: None if isinstance(sid, str) and len(sid) == 36 else "a UUID")
    s1 = step("session.create with lowercase keys (name, ttl, lockdelay, behavior)",
              lambda: c.session.create(name="py-s1", ttl=30, lock_delay=0, behavior="release"),
              lambda sid: None if isinstance(sid, str) and len(sid) == 36 else "a UUID")
    step("session.info", lambda: (lambda s: [s["ID"], s["Name"], s["TTL"], s["Behavior"], s["Node"], s["LockDelay"]])(c.session.info(s1)[1]),
         equals([s1, "py-s1", "30s", "release", node, 0]))
    step("session.info of an unknown session is None",
         lambda: c.session.info("00000000-0000-0000-0000-000000000000")[1], equals(None))
    step("session.list has both", lambda: sorted(x for x in (s["ID"] for s in c.session.list()[1]) if x in (s_empty, s1)),
         equals(sorted([s_empty, s1])))
    step("session.node lists them for this node",
         lambda: sorted(x for x in (s["ID"] for s in c.session.node(node)[1]) if x in (s_empty, s1)),
         equals(sorted([s_empty, s1])))
    step("session.renew returns the session", lambda: c.session.renew(s1)["ID"], equals(s1))
    step("session.destroy", lambda: c.session.destroy(s_empty), equals(True))
    step("session.list no longer has it", lambda: s_empty in [s["ID"] for s in c.session.list()[1]], equals(False))

    # --- a lock between two sessions ---
    s2 = c.session.create(name="py-s2", lock_delay=0)
    step("kv.put acquire by s1", lambda: c.kv.put("py/lock", "s1-data", acquire=s1), equals(True))
    step("kv.get shows the holder and LockIndex 1",
         lambda: (lambda e: [e["Session"], e["LockIndex"], e["Value"]])(c.kv.get("py/lock")[1]),
         equals([s1, 1, b"s1-data"]))
    step("kv.put acquire by s2 is refused while s1 holds it", lambda: c.kv.put("py/lock", "s2-data", acquire=s2), equals(False))
    step("kv.put release by s2 (not the holder) is refused", lambda: c.kv.put("py/lock", None, release=s2), equals(False))
    step("kv.put release by s1", lambda: c.kv.put("py/lock", None, release=s1), equals(True))
    step("kv.put acquire by s2 after the release", lambda: c.kv.put("py/lock", "s2-data", acquire=s2), equals(True))
    step("kv.get shows s2 holding, LockIndex 2",
         lambda: (lambda e: [e["Session"], e["LockIndex"]])(c.kv.get("py/lock")[1]),
         equals([s2, 2]))
    step("session.destroy of the holder (behavior release) frees the key",
         lambda: [c.session.destroy(s2), c.kv.get("py/lock")[1].get("Session")],
         equals([True, None]))

    s3 = c.session.create(name="py-ephemeral", behavior="delete", lock_delay=0)
    step("kv.put acquire with a behavior=delete session", lambda: c.kv.put("py/ephemeral", "here", acquire=s3), equals(True))
    step("session.destroy with behavior=delete deletes the held key",
         lambda: [c.session.destroy(s3), c.kv.get("py/ephemeral")[1]],
         equals([True, None]))
    c.session.destroy(s1)

    return flow.summary()


if __name__ == "__main__":
    sys.exit(main())
