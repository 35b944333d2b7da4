"""Gazette's webhooks checked by the Standard Webhooks reference implementation
(`standardwebhooks` from PyPI): a receiver on loopback gets `post.published` within
seconds of a publication and `comment.created` of a comment; every delivery verifies with
the endpoint's secret, and after `rotateWebhookSecret` with the old secret and with the
new one (the header carries both); a body changed on the way does not verify.
clients/run starts Gazette with --webhooks-allow-http --webhooks-allow-private."""

import http.server
import json
import os
import queue
import threading
import time
import unittest
import urllib.request

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

BASE = os.environ["GAZETTE_URL"]
TOKEN = os.environ["GAZETTE_ADMIN_TOKEN"]


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

    def publish(self, title):
        return graphql(
            "mutation($title: String!) { createPost(input: { title: $title, status: PUBLISHED }) "
            "{ post { id slug } } }",
            {"title": title},
        )["createPost"]["post"]

    def test_a_publication_arrives_signed_and_verifies(self):
        post = self.publish("Webhook reference check")
        headers, body = self.receiver.next("post.published")
        payload = Webhook(self.secret).verify(body, headers)
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
        headers, body = self.receiver.next("post.published")
        self.assertEqual(len(headers["webhook-signature"].split(" ")), 2)
        Webhook(rotated).verify(body, headers)
        Webhook(old).verify(body, headers)


if __name__ == "__main__":
    unittest.main(verbosity=2)
