"""Gazette's webhooks checked by the Standard Webhooks reference implementation
(`standardwebhooks` from PyPI): a receiver on loopback gets `post.published` within
seconds of `publishPost`, of a scheduled post's time and of `gazette import`, and
`comment.created` of a comment; every delivery verifies with the endpoint's secret, and
after `rotateWebhookSecret` with the old secret and with the new one (the header carries
both); a body changed on the way does not verify. clients/run starts Gazette with
--webhooks-allow-http --webhooks-allow-private."""

import http.server
import json
import os
import queue
import subprocess
import threading
import time
import unittest
import urllib.request

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

BASE = os.environ["GAZETTE_URL"]
TOKEN = os.environ["GAZETTE_ADMIN_TOKEN"]
GAZETTE_BIN = os.environ["GAZETTE_BIN"]
# The data directory of the `gazette serve` under test: its embedded database, for import.
DATA_DIR = os.environ["GAZETTE_DATA_DIR"]
FIXTURE = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "import", "blogger.xml")


def graphql(query, variables=None):
    request = urllib.request.Request(
        BASE + "/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"content-type": "application/json", "authorization": "Bearer " + TOKEN},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        result = json.load(response)
    assert "errors" not in result, result
    return result["data"]


class Receiver(http.server.ThreadingHTTPServer):
    """Records each delivery's headers and raw body; answers 204."""

    def __init__(self):
        self.deliveries = queue.Queue()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.deliveries.put((dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    def next(self, event_type, within=30):
        """The next delivery of `event_type` (others are skipped), within `within` s."""
        deadline = time.monotonic() + within
        while True:
            headers, body = self.deliveries.get(timeout=max(0.1, deadline - time.monotonic()))
            if json.loads(body)["type"] == event_type:
                return headers, body


class Webhooks(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.receiver = Receiver()
        threading.Thread(target=cls.receiver.serve_forever, daemon=True).start()
        url = "http://127.0.0.1:%d/hook" % cls.receiver.server_address[1]
        made = graphql(
            "mutation($url: String!) { createWebhook(input: { url: $url, "
            "events: [\"post.published\", \"comment.created\"], description: \"reference check\" }) "
            "{ secret webhook { id } } }",
            {"url": url},
        )["createWebhook"]
        cls.secret = made["secret"]
        cls.webhook_id = made["webhook"]["id"]

    @classmethod
    def tearDownClass(cls):
        graphql("mutation($id: ID!) { deleteWebhook(input: { id: $id }) { deletedWebhookId } }",
                {"id": cls.webhook_id})
        cls.receiver.shutdown()
        cls.receiver.server_close()

    def publish(self, title):
        return graphql(
            "mutation($title: String!) { createPost(input: { title: $title, status: PUBLISHED }) "
            "{ post { id slug } } }",
            {"title": title},
        )["createPost"]["post"]

    def published(self, title):
        """The `post.published` delivery of the post titled `title`, verified with the
        current secret (other posts' are skipped): its headers, body and payload."""
        while True:
            headers, body = self.receiver.next("post.published")
            payload = Webhook(self.secret).verify(body, headers)
            if payload["data"]["post"]["title"] == title:
                return headers, body, payload

    def test_publish_post_schedule_and_import_each_arrive_verified(self):
        draft = graphql(
            "mutation { createPost(input: { title: \"Published by publishPost\" }) { post { id } } }"
        )["createPost"]["post"]
        graphql("mutation($id: ID!) { publishPost(input: { id: $id }) { post { status } } }",
                {"id": draft["id"]})
        self.assertEqual(self.published("Published by publishPost")[2]["data"]["post"]["id"], draft["id"])

        later = graphql(
            "mutation { createPost(input: { title: \"Published by the scheduler\" }) { post { id } } }"
        )["createPost"]["post"]
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3))
        graphql("mutation($id: ID!, $at: DateTime!) { schedulePost(input: { id: $id, publishAt: $at }) "
                "{ post { status } } }", {"id": later["id"], "at": at})
        self.published("Published by the scheduler")

        with open(os.path.join(DATA_DIR, "postgres-password")) as file:
            password = file.read().strip()
        database = "postgres://gazette_app:%s@localhost/gazette?host=%s" % (
            password, os.path.join(DATA_DIR, "postgres"))
        imported = subprocess.run([GAZETTE_BIN, "import", FIXTURE], capture_output=True, text=True,
                                  timeout=60, env={**os.environ, "DATABASE_URL": database})
        self.assertEqual(imported.returncode, 0, imported.stdout + imported.stderr)
        # The fixture's published post (its other post is a draft).
        payload = self.published("Opening our data")[2]
        self.assertEqual(payload["data"]["post"]["status"], "PUBLISHED")

    def test_a_publication_arrives_signed_and_verifies(self):
        post = self.publish("Webhook reference check")
        headers, body, payload = self.published("Webhook reference check")
        self.assertEqual(payload["type"], "post.published")
        self.assertEqual(payload["data"]["post"]["id"], post["id"])
        self.assertTrue(payload["data"]["post"]["url"].endswith("/posts/" + post["slug"]))
        self.assertTrue(headers["webhook-id"].startswith("msg_"))
        with self.assertRaises(WebhookVerificationError):
            Webhook(self.secret).verify(body.replace(b"reference", b"forged"), headers)

    def test_a_comment_arrives_without_its_text_or_email(self):
        post = self.publish("Webhook comment check")
        graphql(
            "mutation($post: ID!) { addComment(input: { postId: $post, authorName: \"Ref\", "
            "authorEmail: \"ref@example.org\", body: \"Words only the API shows\" }) { comment { id } } }",
            {"post": post["id"]},
        )
        headers, body = self.receiver.next("comment.created")
        payload = Webhook(self.secret).verify(body, headers)
        self.assertEqual(payload["data"]["post"]["id"], post["id"])
        self.assertNotIn(b"Words only the API shows", body)
        self.assertNotIn(b"ref@example.org", body)

    def test_both_secrets_verify_after_a_rotation(self):
        rotated = graphql(
            "mutation($id: ID!) { rotateWebhookSecret(input: { id: $id }) { secret } }",
            {"id": self.webhook_id},
        )["rotateWebhookSecret"]["secret"]
        old, Webhooks.secret = Webhooks.secret, rotated
        self.publish("Webhook rotation check")
        headers, body, _ = self.published("Webhook rotation check")
        self.assertEqual(len(headers["webhook-signature"].split(" ")), 2)
        Webhook(rotated).verify(body, headers)
        Webhook(old).verify(body, headers)


if __name__ == "__main__":
    unittest.main(verbosity=2)
