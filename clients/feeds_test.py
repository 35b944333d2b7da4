"""Feed readers and crawlers against a running Gazette (clients/run starts it): feedparser
parses every feed the API lists (RSS, Atom, JSON Feed) with no errors, absolute links and
stable ids, and revalidates with 304; newsboat reloads every feed headlessly; the sitemap
validates against the sitemaps.org XSD and every page it lists answers."""

import json
import os
import sqlite3
import subprocess
import tempfile
import unittest
import urllib.error
import urllib.request

import feedparser
from lxml import etree

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


def feed_urls(xml_only=True):
    """Every feed the API lists, and a post's comment feed (built on first request). The
    readers here (feedparser 6.0, Debian's newsboat 2.21) read RSS and Atom, not JSON Feed:
    `xml_only` leaves JSON Feeds out (class JsonFeed checks those)."""
    feeds = graphql("{ feeds { url mediaType } }")["feeds"]
    assert feeds, "the API lists feeds"
    for feed in feeds:
        assert feed["mediaType"].split(";")[0] in (
            "application/rss+xml",
            "application/atom+xml",
            "application/feed+json",
        ), feed
    urls = [
        feed["url"]
        for feed in feeds
        if not (xml_only and feed["mediaType"].startswith("application/feed+json"))
    ]
    return urls + [f"{BASE}/posts/{DEMO_SLUG}/comments/feed.xml"]


def fetch(url, headers=None):
    """Status, headers (names in lower case) and body."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, received, body = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, received, body = error.code, error.headers, error.read()
    return status, {name.lower(): value for name, value in received.items()}, body


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


class JsonFeed(unittest.TestCase):
    def test_json_feeds_have_what_the_spec_requires(self):
        listed = [url for url in feed_urls(xml_only=False) if url.endswith(".json")]
        self.assertEqual(
            sorted(listed), [BASE + "/comments/feed.json", BASE + "/feed.json"]
        )
        for path in ("/feed.json", "/comments/feed.json"):
            with self.subTest(path=path):
                status, headers, body = fetch(BASE + path)
                self.assertEqual(status, 200)
                self.assertTrue(headers["content-type"].startswith("application/feed+json"))
                feed = json.loads(body)
                self.assertEqual(feed["version"], "https://jsonfeed.org/version/1.1")
                self.assertIsInstance(feed["title"], str)
                self.assertIsInstance(feed["items"], list)
                self.assertTrue(feed["items"])
                for item in feed["items"]:
                    self.assertIsInstance(item["id"], str)
                    self.assertTrue("content_html" in item or "content_text" in item)
                    self.assertTrue(item["url"].startswith(BASE + "/posts/"))
                # Revalidation, as for the other feeds.
                again = fetch(BASE + path, {"If-None-Match": headers["etag"]})
                self.assertEqual(again[0], 304)


def schema(name):
    """One of the sitemaps.org schemas vendored under schemas/."""
    here = os.path.dirname(os.path.abspath(__file__))
    return etree.XMLSchema(etree.parse(os.path.join(here, "schemas", name)))


class Sitemap(unittest.TestCase):
    def test_the_sitemap_validates_and_every_page_in_it_answers(self):
        status, headers, body = fetch(BASE + "/sitemap.xml")
        self.assertEqual(status, 200)
        document = etree.fromstring(body)
        namespace = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
        if document.tag == namespace + "sitemapindex":
            schema("siteindex.xsd").assertValid(document)
            parts = [loc.text for loc in document.iter(namespace + "loc")]
        else:
            schema("sitemap.xsd").assertValid(document)
            parts = [BASE + "/sitemap.xml"]
        urlset = schema("sitemap.xsd")
        pages = []
        for part in parts:
            part_document = etree.fromstring(fetch(part)[2])
            urlset.assertValid(part_document)
            pages += [loc.text for loc in part_document.iter(namespace + "loc")]
        self.assertIn(BASE + "/posts/" + DEMO_SLUG, pages)
        for page in pages:
            with self.subTest(page=page):
                self.assertEqual(fetch(page)[0], 200)
        robots = fetch(BASE + "/robots.txt")[2].decode()
        self.assertIn("Sitemap: " + BASE + "/sitemap.xml", robots)


class SitemapIndex(unittest.TestCase):
    """Past 50,000 URLs the sitemap is an index of parts: a second gazette, on a site of
    50,001 posts (`gazette bench-data`, started by clients/run), answers it."""

    def test_a_large_site_gets_an_index_whose_parts_validate(self):
        large = os.environ["GAZETTE_LARGE_URL"]
        namespace = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
        status, _, body = fetch(large + "/sitemap.xml")
        self.assertEqual(status, 200)
        index = etree.fromstring(body)
        self.assertEqual(index.tag, namespace + "sitemapindex")
        schema("siteindex.xsd").assertValid(index)
        parts = [loc.text for loc in index.iter(namespace + "loc")]
        self.assertEqual(
            [part.rsplit("/", 1)[1] for part in parts],
            ["pages.xml", "posts-1.xml", "posts-2.xml", "tags-1.xml"],
        )
        urlset = schema("sitemap.xsd")
        posts = []
        for part in parts:
            status, _, body = fetch(part)
            self.assertEqual(status, 200, part)
            document = etree.fromstring(body)
            urlset.assertValid(document)
            locs = [loc.text for loc in document.iter(namespace + "loc")]
            self.assertLessEqual(len(locs), 50_000, part)
            if "/posts-" in part:
                posts += locs
                # The first and last page each part lists answer.
                for page in (locs[0], locs[-1]):
                    self.assertEqual(fetch(page)[0], 200, page)
        self.assertEqual(len(posts), 50_001)
        self.assertEqual(len(set(posts)), 50_001, "no post listed twice")


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
