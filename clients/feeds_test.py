"""Feed readers against a running Gazette (clients/run starts it): feedparser parses every
feed the API lists with no errors, absolute links and stable ids, and revalidates with 304;
newsboat reloads every feed headlessly."""

import json
import os
import sqlite3
import subprocess
import tempfile
import unittest
import urllib.error
import urllib.request

import feedparser

BASE = os.environ["GAZETTE_URL"]
DEMO_SLUG = "the-implementation-of-enterprise-2-0-by-government-departments"


def graphql(query):
    request = urllib.request.Request(
        BASE + "/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        result = json.load(response)
    assert "errors" not in result, result
    return result["data"]


def feed_urls():
    """Every feed the API lists, and a post's comment feed (built on first request)."""
    feeds = graphql("{ feeds { url mediaType } }")["feeds"]
    assert feeds, "the API lists feeds"
    for feed in feeds:
        assert feed["mediaType"].split(";")[0] in (
            "application/rss+xml",
            "application/atom+xml",
        ), feed
    return [feed["url"] for feed in feeds] + [
        f"{BASE}/posts/{DEMO_SLUG}/comments/feed.xml"
    ]


def fetch(url, headers=None):
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


class Feedparser(unittest.TestCase):
    def test_every_feed_parses_cleanly_with_absolute_links_and_stable_ids(self):
        for url in feed_urls():
            with self.subTest(url=url):
                status, headers, body = fetch(url)
                self.assertEqual(status, 200)
                parsed = feedparser.parse(body, response_headers=headers)
                self.assertEqual(parsed.bozo, 0, parsed.get("bozo_exception"))
                self.assertTrue(parsed.feed.get("title"))
                self.assertTrue(parsed.feed.get("link", "").startswith("http"))
                for entry in parsed.entries:
                    self.assertTrue(entry.link.startswith("http://"), entry.link)
                    self.assertTrue(entry.get("id"), entry)
                again = feedparser.parse(fetch(url)[2])
                self.assertEqual(
                    [entry.id for entry in parsed.entries],
                    [entry.id for entry in again.entries],
                )
        site = feedparser.parse(fetch(BASE + "/feed.xml")[2])
        self.assertTrue(site.entries)
        for entry in site.entries:
            self.assertTrue(entry.link.startswith(BASE + "/posts/"), entry.link)

    def test_feeds_revalidate_with_304(self):
        for url in feed_urls():
            with self.subTest(url=url):
                first = feedparser.parse(url)
                self.assertEqual(first.status, 200)
                self.assertTrue(first.get("etag") and first.get("modified"), url)
                by_etag = feedparser.parse(url, etag=first.etag)
                self.assertEqual(by_etag.status, 304)
                by_date = feedparser.parse(url, modified=first.modified)
                self.assertEqual(by_date.status, 304)


class Newsboat(unittest.TestCase):
    def test_newsboat_reloads_every_feed(self):
        urls = feed_urls()
        with tempfile.TemporaryDirectory() as directory:
            url_file = os.path.join(directory, "urls")
            cache = os.path.join(directory, "cache.db")
            config = os.path.join(directory, "config")
            with open(url_file, "w", encoding="utf-8") as file:
                file.write("\n".join(urls) + "\n")
            open(config, "w", encoding="utf-8").close()
            run = subprocess.run(
                ["newsboat", "-u", url_file, "-c", cache, "-C", config, "-x", "reload"],
                capture_output=True,
                text=True,
                timeout=120,
                env={**os.environ, "HOME": directory},
            )
            self.assertEqual(run.returncode, 0, run.stderr)
            with sqlite3.connect(cache) as database:
                loaded = dict(database.execute("select rssurl, title from rss_feed"))
                items = database.execute("select count(*) from rss_item").fetchone()[0]
        # newsboat stores a feed only once it fetched and parsed it.
        for url in urls:
            with self.subTest(url=url):
                self.assertTrue(loaded.get(url), f"newsboat did not load {url}")
        self.assertGreater(items, 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
