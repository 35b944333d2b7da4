#!/usr/bin/env python3
"""Writes a WordPress export (WXR 1.2) of N posts, each with two comments (the second a
reply to the first) and one of 50 tags: the workload of docs/import.md's timing.

    python3 bench/large_export.py 10000 > /tmp/large.xml
    time gazette --data-dir /tmp/import-bench import /tmp/large.xml
"""

import sys


def main() -> None:
    posts = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    out = sys.stdout
    out.write(
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:wp="http://wordpress.org/export/1.2/">\n'
        "<channel><title>Large</title><wp:base_site_url>https://large.example</wp:base_site_url>\n"
    )
    for number in range(1, posts + 1):
        first, reply = number * 2, number * 2 + 1
        out.write(
            f"<item><title>Post {number}</title><dc:creator>writer</dc:creator>"
            f"<content:encoded><![CDATA[<p>Body of post {number}.</p>]]></content:encoded>"
            f"<wp:post_id>{number}</wp:post_id><wp:post_date_gmt>2020-01-01 00:00:00</wp:post_date_gmt>"
            f"<wp:post_name>post-{number}</wp:post_name><wp:status>publish</wp:status>"
            f'<wp:post_type>post</wp:post_type><category domain="post_tag">Tag {number % 50}</category>'
            f"<wp:comment><wp:comment_id>{first}</wp:comment_id><wp:comment_author>A</wp:comment_author>"
            f"<wp:comment_date_gmt>2020-01-02 00:00:00</wp:comment_date_gmt><wp:comment_content>First</wp:comment_content>"
            f"<wp:comment_approved>1</wp:comment_approved><wp:comment_parent>0</wp:comment_parent></wp:comment>"
            f"<wp:comment><wp:comment_id>{reply}</wp:comment_id><wp:comment_author>B</wp:comment_author>"
            f"<wp:comment_date_gmt>2020-01-03 00:00:00</wp:comment_date_gmt><wp:comment_content>Reply</wp:comment_content>"
            f"<wp:comment_approved>1</wp:comment_approved><wp:comment_parent>{first}</wp:comment_parent></wp:comment></item>\n"
        )
    out.write("</channel></rss>\n")


if __name__ == "__main__":
    main()
