"""The blog actor checked by fediverse-pasture's actor verifier (issue 27).

fediverse-pasture (https://funfedi.dev, PyPI `fediverse-pasture`, MIT) is the fediverse's
interoperability test kit. Its `verify_actor` application fetches an actor, looks it up
by WebFinger from its preferredUsername, and posts a `Like` to its inbox as six test
actors of its own: unsigned (alice, dean: must be refused), signed (bob, emily), and
signed from actors whose documents need a signed GET (claire, frank: Gazette signs its
fetches). Run against its own `gazette serve` with federation on, on loopback.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

GAZETTE_BIN = os.environ["GAZETTE_BIN"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, what: str, log: str) -> None:
    for _ in range(240):
        if process.poll() is not None:
            raise AssertionError(f"{what} exited:\n{open(log).read()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{what} did not start:\n{open(log).read()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


class VerifyActor(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="gazette-pasture-")
        gazette_port, pasture_port = free_port(), free_port()
        cls.actor = f"http://127.0.0.1:{gazette_port}/actor"
        gazette_log = os.path.join(cls.work, "gazette.log")
        pasture_log = os.path.join(cls.work, "pasture.log")
        cls.logs = [open(gazette_log, "w"), open(pasture_log, "w")]
        cls.gazette = subprocess.Popen(
            [
                GAZETTE_BIN, "serve", "--data-dir", os.path.join(cls.work, "data"),
                "--listen", f"127.0.0.1:{gazette_port}", "--metrics-listen", "off",
                "--federation", "--federation-allow-private",
            ],
            stdout=subprocess.DEVNULL,
            stderr=cls.logs[0],
        )
        # The verifier keeps its generated actors in ./data.toml: its own directory.
        cls.pasture = subprocess.Popen(
            [
                sys.executable, "-m", "fediverse_pasture.verify_actor",
                "--domain", f"127.0.0.1:{pasture_port}", "--port", str(pasture_port),
                "--timeout", "20",
            ],
            cwd=cls.work,
            stdout=subprocess.DEVNULL,
            stderr=cls.logs[1],
        )
        cls.verifier = f"http://127.0.0.1:{pasture_port}/"
        wait_for(f"http://127.0.0.1:{gazette_port}/readyz", cls.gazette, "gazette serve", gazette_log)
        wait_for(cls.verifier, cls.pasture, "fediverse-pasture", pasture_log)

    @classmethod
    def tearDownClass(cls):
        stop(cls.pasture)
        stop(cls.gazette)
        for log in cls.logs:
            log.close()
        shutil.rmtree(cls.work, ignore_errors=True)

    def test_the_verifier_finds_the_actor_and_only_signed_posts_reach_the_inbox(self):
        form = urllib.parse.urlencode({"actor_uri": self.actor}).encode()
        request = urllib.request.Request(
            self.verifier,
            data=form,
            headers={
                "content-type": "application/x-www-form-urlencoded",
                "accept": "application/json",
            },
        )
        with urllib.request.urlopen(request, timeout=180) as response:
            answer = json.load(response)
        result, messages = answer["result"], answer["messages"]
        self.assertTrue(result["webfinger"], f"WebFinger finds the actor from its handle:\n{messages}")
        for name in ["alice", "bob", "claire", "dean", "emily", "frank"]:
            self.assertTrue(result[name]["get_actor"], f"{name} reads the actor:\n{messages}")
        for name in ["bob", "claire", "emily", "frank"]:
            self.assertTrue(result[name]["post_inbox"], f"{name}'s signed Like is taken:\n{messages}")
        for name in ["alice", "dean"]:
            self.assertFalse(result[name]["post_inbox"], f"{name}'s unsigned Like is refused:\n{messages}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
