"""The Python client against a real node with a built-in broker and the example plugins."""

from __future__ import annotations

import datetime
import os
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

import zerotask
from zerotask import Client, Status

from harness import Node, eventually, zerotask_binary


def serving(client: Client, method: str) -> bool:
    return any(m["name"] == method and m.get("nodes") for m in client.methods())


class ATaggedNode(unittest.TestCase):
    """A node started with tags runs the tasks that require them."""

    def test_a_task_requiring_the_nodes_tags_runs_there(self):
        node = Node("--tags", "gpu,eu", workers=1)
        try:
            with Client(node.request, request_timeout=30) as client:
                self.assertTrue(eventually(lambda: serving(client, "math.add")), node.output)
                self.assertEqual(sorted(client.nodes()[0]["tags"]), ["eu", "gpu"])
                self.assertEqual(client.call("math.add", [3, 4], tags=["gpu"], timeout=60), 7)
                self.assertEqual(client.submit("math.add", [1, 2], tags=["eu", "gpu"]).wait(timeout=60), 3)
        finally:
            node.stop()


class ClientAgainstANode(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = Node()
        cls.client = Client(cls.node.request, request_timeout=30)
        if not eventually(lambda: serving(cls.client, "math.add")):
            raise RuntimeError(f"math.add never served; node output:\n{cls.node.output}")

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.node.stop()

    def test_call_runs_a_method_by_position_and_by_name(self):
        self.assertEqual(self.client.call("math.add", [2, 3]), 5)
        self.assertEqual(self.client.call("math.add", {"a": 40, "b": 2}), 42)
        self.assertEqual(self.client.call("text.upper", ("hello",)), "HELLO")
        self.assertAlmostEqual(self.client.call("math.addf", [0.5, 0.25]), 0.75)

    def test_submit_gives_a_handle_to_wait_on_and_inspect(self):
        t = self.client.submit("text.reverse", ["abc"], priority=5)
        self.assertTrue(t.id.startswith(self.client.client_id + "-"), t.id)
        self.assertEqual(t.wait(timeout=60), "cba")
        self.assertEqual(t.status(), Status.FINISHED)
        self.assertTrue(t.status().complete)
        info = t.info()
        self.assertEqual(info["method"], "text.reverse")
        self.assertEqual(info["attempts"], 1)
        self.assertEqual(info["priority"], 5)
        self.assertEqual(self.client.result(t.id), "cba")

    def test_a_delayed_task_waits_queued_with_its_time_and_can_be_cancelled(self):
        when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
        t = self.client.submit("math.add", [1, 2], not_before=when, retry={"max_attempts": 2, "backoff": 0})
        info = t.info()
        self.assertEqual(info["state"], "queued")
        self.assertTrue(info["delayed"])
        self.assertAlmostEqual(info["not_before"], when.timestamp(), places=3)
        self.assertEqual(info["retry"]["max_attempts"], 2)
        self.assertTrue(t.cancel())
        with self.assertRaises(ValueError):
            self.client.submit("math.add", [1, 2], not_before=datetime.datetime.now())
        self.assertEqual(self.client.call("math.add", [2, 2], delay=0.2), 4)

    def test_a_chosen_task_id_is_kept(self):
        t = self.client.submit("math.mul", [6, 7], task_id="py-mul-1")
        self.assertEqual(t.id, f"{self.client.client_id}-py-mul-1")
        self.assertEqual(t.wait(60), 42)
        with self.assertRaises(zerotask.UnknownTask):
            self.client.submit("math.mul", [1, 1], task_id="py-mul-1")

    def test_a_plugin_error_is_a_typed_task_failure(self):
        with self.assertRaises(zerotask.TaskFailed) as caught:
            self.client.call("math.div", [1.0, 0.0], timeout=60)
        e = caught.exception
        self.assertNotIn(e.code, (-32060, -32061, -32062))
        self.assertIn("zero", e.message.lower())
        self.assertTrue(e.task_id.startswith(self.client.client_id + "-"))
        # And read again later, from the stored result.
        with self.assertRaises(zerotask.TaskFailed) as again:
            self.client.result(e.task_id)
        self.assertEqual(again.exception.code, e.code)
        self.assertEqual(self.client.status(e.task_id), Status.FAILED)

    def test_params_that_do_not_fit_the_signature_name_the_parameter(self):
        with self.assertRaises(zerotask.ZeroTaskError) as caught:
            self.client.call("math.add", ["two", 3], timeout=60)
        self.assertEqual(caught.exception.code, -32602)
        self.assertIn("a", caught.exception.message)

    def test_unknown_ids_are_typed_errors(self):
        for ask in (self.client.status, self.client.info, self.client.cancel, self.client.result):
            with self.assertRaises(zerotask.UnknownTask, msg=ask.__name__):
                ask(f"{self.client.client_id}-no-such-task")

    def test_cancel_stops_a_running_task(self):
        t = self.client.submit("math.sleep", [60000])
        self.assertTrue(eventually(lambda: t.status() == Status.RUNNING, 60), t.info())
        self.assertTrue(t.cancel())
        with self.assertRaises(zerotask.TaskCancelled) as caught:
            t.wait(60)
        self.assertEqual(caught.exception.code, -32062)
        self.assertFalse(t.cancel())

    def test_a_task_past_its_timeout_fails_as_timed_out(self):
        with self.assertRaises(zerotask.TaskTimedOut) as caught:
            self.client.call("math.sleep", [30000], task_timeout=0.5, timeout=60)
        self.assertEqual(caught.exception.code, -32060)

    def test_waiting_too_short_raises_timeout_and_the_task_goes_on(self):
        t = self.client.submit("math.sleep", [1500])
        with self.assertRaises(zerotask.Timeout):
            t.wait(timeout=0.2)
        self.assertEqual(t.wait(timeout=60), 1500)

    def test_submit_many_queues_a_batch_with_one_outcome_per_task(self):
        tasks = [("math.add", [i, 1000]) for i in range(1200)]
        tasks.insert(7, {"method": "math.add", "params": [1, 1], "task_id": "not a valid id!"})
        out = self.client.submit_many(tasks)
        self.assertEqual(len(out), 1201)
        self.assertIsInstance(out[7], zerotask.UnknownTask)
        handles = [h for h in out if isinstance(h, zerotask.TaskHandle)]
        self.assertEqual(len(handles), 1200)
        results = self.client.wait_many([h.id for h in handles], timeout=120)
        self.assertEqual(sorted(r["result"] for r in results.values()), [i + 1000 for i in range(1200)])

    def test_a_chain_and_a_group_run_as_one(self):
        chain = self.client.chain([("math.add", [1, 2]), ("math.mul", [10])])
        self.assertEqual(chain.wait(timeout=60), 30)
        group = self.client.group([("math.add", [1, 2]), ("math.add", [3, 4])])
        self.assertEqual(group.wait(timeout=60), [3, 7])
        summed = self.client.group([("math.add", [1, 2]), ("math.add", [3, 4])], callback=("stats.summary", None))
        self.assertEqual(summed.wait(timeout=60)["max"], 7)
        failing = self.client.chain([("math.div", [1, 0]), ("math.mul", [10])])
        with self.assertRaises(zerotask.TaskFailed) as caught:
            failing.wait(timeout=60)
        self.assertIn("chain task 1 of 2 (math.div) failed", str(caught.exception))

    def test_a_paused_queue_holds_its_tasks_and_a_purge_cancels_them(self):
        paused = self.client.pause("math.mul")
        self.assertTrue(paused["paused"])
        try:
            held = self.client.submit("math.mul", [6, 7])
            later = self.client.submit("math.mul", [1, 1], delay=3600)
            answer = self.client.pause("math.mul")
            self.assertEqual(answer["queued"], 2)
            self.assertEqual(answer["delayed"], 1)
            self.assertEqual(held.status(), Status.QUEUED)
            self.assertEqual(self.client.resume("math.mul")["paused"], False)
            self.assertEqual(held.wait(timeout=60), 42)
            self.client.pause("math.mul")
            doomed = self.client.submit("math.mul", [2, 2])
            purged = self.client.purge("math.mul")
            self.assertEqual(purged["purged"], 2)  # the delayed one and the one just queued
            for t in (later, doomed):
                with self.assertRaises(zerotask.TaskCancelled):
                    t.wait(timeout=60)
        finally:
            self.client.resume("math.mul")

    def test_a_schedule_ticks_once_per_tick_and_goes_when_removed(self):
        added = self.client.schedule_add("py-every", "math.add", [20, 22], every=1)
        self.assertEqual(added["name"], "py-every")
        self.assertEqual(added["every"], 1)
        try:
            listed = {s["name"]: s for s in self.client.schedules()}
            self.assertIn("py-every", listed)
            ran = eventually(lambda: (self.client.schedules_by_name().get("py-every") or {}).get("last_task_id"))
            self.assertTrue(ran, self.client.schedules())
            last = self.client.schedules_by_name()["py-every"]["last_task_id"]
            self.assertTrue(last.startswith("schedule:py-every-"), last)
            # A tick's task is the broker's own (no client's): an admin reads it.
            done = eventually(lambda: self.client.request("admin_task", {"task_id": last}).get("state") == "finished")
            self.assertTrue(done, self.client.request("admin_task", {"task_id": last}))
            self.assertEqual(self.client.request("admin_task", {"task_id": last})["result"], 42)
            with self.assertRaises(zerotask.InvalidParams) as caught:
                self.client.schedule_add("py-bad", "math.add", cron="61 * * * *")
            self.assertIn("minute", str(caught.exception))
        finally:
            self.assertEqual(self.client.schedule_remove("py-every")["name"], "py-every")
        self.assertNotIn("py-every", self.client.schedules_by_name())
        with self.assertRaises(zerotask.InvalidParams) as caught:
            self.client.schedule_remove("py-every")
        self.assertIn("py-every", str(caught.exception))

    def test_a_task_that_requires_tags_waits_for_a_node_that_has_them(self):
        t = self.client.submit("math.add", [1, 1], tags=["tpu"])
        info = t.info()
        self.assertEqual(info["tags"], ["tpu"])
        self.assertEqual(info["state"], "queued")
        # This node has no tags: the task waits, and other tasks of the method still run.
        self.assertEqual(self.client.call("math.add", [2, 2], timeout=60), 4)
        self.assertEqual(t.status(), Status.QUEUED)
        self.assertTrue(t.cancel())

    def test_discovery(self):
        add = next(m for m in self.client.methods() if m["name"] == "math.add")
        self.assertEqual([p["type"] for p in add["params"]], ["int64", "int64"])
        self.assertEqual(add["returns"], "int64")
        nodes = self.client.nodes()
        self.assertEqual(len(nodes), 1)
        self.assertIn("math.add", nodes[0]["methods"])
        before = self.client.stats()["submitted_total"]
        self.client.call("math.sub", [5, 3])
        self.assertEqual(self.client.stats()["submitted_total"], before + 1)

    def test_one_client_shared_by_threads(self):
        errors = []

        def work(k):
            try:
                for i in range(40):
                    if self.client.call("math.add", [k, i], timeout=60) != k + i:
                        errors.append((k, i))
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=work, args=(k * 100,)) for k in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(120)
        self.assertEqual(errors, [])

    def test_the_broker_comes_from_the_environment(self):
        saved = os.environ.get("ZEROTASK_BROKER")
        os.environ["ZEROTASK_BROKER"] = self.node.request
        try:
            with Client() as c:
                self.assertEqual(c.endpoint, self.node.request)
                self.assertEqual(c.call("math.add", [1, 2]), 3)
        finally:
            if saved is None:
                del os.environ["ZEROTASK_BROKER"]
            else:
                os.environ["ZEROTASK_BROKER"] = saved

    def test_an_endpoint_without_scheme_is_a_clear_error(self):
        with self.assertRaises(ValueError) as caught:
            Client("127.0.0.1:5555")
        self.assertIn("tcp://127.0.0.1:5555", str(caught.exception))

    def test_a_broker_that_does_not_answer_is_a_timeout(self):
        import zmq
        ctx = zmq.Context.instance()
        silent = ctx.socket(zmq.ROUTER)
        port = silent.bind_to_random_port("tcp://127.0.0.1")
        try:
            start = time.monotonic()
            with self.assertRaises(zerotask.Timeout) as caught:
                Client(f"tcp://127.0.0.1:{port}", request_timeout=0.5)
            self.assertIn("client_connect", str(caught.exception))
            self.assertLess(time.monotonic() - start, 30)
        finally:
            silent.close(0)


class ClientFailover(unittest.TestCase):
    """Two nodes with built-in brokers; the client is given both and the first is killed."""

    def test_a_killed_broker_is_left_for_the_next_and_work_carries_on_there(self):
        first, second = Node(workers=1), Node(workers=1)
        try:
            with Client(f"{first.request}, {second.request}", request_timeout=1) as c:
                self.assertEqual(c.brokers, [first.request, second.request])
                self.assertEqual(c.endpoint, first.request)
                self.assertTrue(eventually(lambda: serving(c, "math.add")))
                self.assertEqual(c.call("math.add", [2, 3]), 5)
                handle = c.submit("math.add", [1, 1])
                self.assertTrue(handle.id.startswith(c.client_id + "-f"), handle.id)
                self.assertEqual(handle.wait(30), 2)
                first.process.kill()  # SIGKILL, by the PID this test started
                first.process.wait(30)
                # Unanswered, failed over, resent with its task id.
                late = c.submit("math.mul", [6, 7])
                self.assertEqual(c.endpoint, second.request)
                self.assertTrue(eventually(lambda: serving(c, "math.mul")))
                self.assertEqual(late.wait(60), 42)
                self.assertEqual(c.call("math.add", [40, 2], timeout=60), 42)
                batch = c.submit_many([("math.sub", [5, 3]), ("math.add", [5, 3])])
                self.assertEqual([h.wait(60) for h in batch], [2, 8])
        finally:
            first.stop()
            second.stop()

    def test_a_dead_first_broker_and_a_malformed_entry(self):
        import zmq
        ctx = zmq.Context.instance()
        silent = ctx.socket(zmq.ROUTER)
        port = silent.bind_to_random_port("tcp://127.0.0.1")
        node = Node(workers=1)
        try:
            with Client([f"tcp://127.0.0.1:{port}", node.request], request_timeout=0.5) as c:
                self.assertEqual(c.endpoint, node.request)
                self.assertTrue(eventually(lambda: serving(c, "math.add")))
                self.assertEqual(c.call("math.add", [1, 2]), 3)
            with self.assertRaises(zerotask.Timeout) as caught:
                Client([f"tcp://127.0.0.1:{port}", f"tcp://127.0.0.1:{port}"], request_timeout=0.3)
            self.assertIn("any of", str(caught.exception))
        finally:
            silent.close(0)
            node.stop()
        with self.assertRaises(ValueError) as caught:
            Client("tcp://127.0.0.1:5555,broker-b:5555")
        self.assertIn("broker endpoint 2 'broker-b:5555' has no scheme", str(caught.exception))
        with self.assertRaises(ValueError) as caught:
            Client("tcp://127.0.0.1:5555,tcp://broker-b")
        self.assertIn("broker endpoint 2 'tcp://broker-b' has no port", str(caught.exception))


class ClientWithKeys(unittest.TestCase):
    """CURVE: a broker with its own key and a clients/ folder; real keys from `zerotask keys`."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="zt-py-keys-")
        for name, where in (("broker", cls.dir), ("alice", cls.dir), ("mallory", cls.dir),
                            ("nodekey", cls.dir)):
            subprocess.run([zerotask_binary(), "keys", "generate", name, "--dir", where], check=True,
                           stdout=subprocess.DEVNULL)
        allowed = os.path.join(cls.dir, "keys", "clients")
        os.makedirs(allowed)
        os.makedirs(os.path.join(cls.dir, "keys", "nodes"))
        os.makedirs(os.path.join(cls.dir, "keys", "admins"))
        os.replace(os.path.join(cls.dir, "alice.pub"), os.path.join(allowed, "alice.pub"))
        cls.node = Node("--secret-key", os.path.join(cls.dir, "broker.key"),
                        "--keys-dir", os.path.join(cls.dir, "keys"))
        cls.broker_pub = os.path.join(cls.dir, "broker.pub")

    @classmethod
    def tearDownClass(cls):
        cls.node.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_an_allowed_key_works_and_may_not_act_as_a_node(self):
        with Client(self.node.request, secret_key=os.path.join(self.dir, "alice.key"),
                    broker_key=self.broker_pub) as c:
            self.assertTrue(eventually(lambda: serving(c, "math.add")), self.node.output)
            self.assertEqual(c.call("math.add", [20, 22], timeout=60), 42)
            with self.assertRaises(zerotask.NotAllowed) as caught:
                c.request("node_connect", ["fake-node"])
            self.assertIn("node_connect", caught.exception.message)

    def test_the_broker_key_may_be_given_as_z85(self):
        with open(self.broker_pub) as f:
            key = [line.strip() for line in f if line.strip() and not line.startswith("#")][0]
        with Client(self.node.request, secret_key=os.path.join(self.dir, "alice.key"), broker_key=key) as c:
            self.assertEqual(c.call("math.sub", [5, 3], timeout=60), 2)

    def test_an_unknown_key_and_no_key_are_refused(self):
        with self.assertRaises(zerotask.Timeout):
            Client(self.node.request, secret_key=os.path.join(self.dir, "mallory.key"),
                   broker_key=self.broker_pub, request_timeout=1.5)
        with self.assertRaises(zerotask.Timeout):
            Client(self.node.request, request_timeout=1.5)

    def test_key_files_that_cannot_serve_are_clear_errors(self):
        pub = os.path.join(self.dir, "mallory.pub")
        with self.assertRaises(zerotask.KeyFileError) as caught:
            Client(self.node.request, secret_key=pub, broker_key=self.broker_pub)
        self.assertIn(pub, str(caught.exception))
        self.assertIn("secret-key", str(caught.exception))
        with self.assertRaises(zerotask.KeyFileError) as missing:
            Client(self.node.request, secret_key=os.path.join(self.dir, "alice.key"))
        self.assertIn("broker", str(missing.exception))


if __name__ == "__main__":
    unittest.main()
