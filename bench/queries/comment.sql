\set n random(:first, :first + 99)
-- The big thread's slot (posts / 2) has another slug: its neighbour gets the comment.
insert into comments (post_id, author_name, body, body_html)
select id, 'Bench reader', 'A comment from the benchmark.', '<p>A comment from the benchmark.</p>'
from posts where slug = 'post-' || case when :n = :posts / 2 then :n + 1 else :n end;
