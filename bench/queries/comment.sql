\set n random(:first, :first + 99)
insert into comments (post_id, author_name, body, body_html)
select id, 'Bench reader', 'A comment from the benchmark.', '<p>A comment from the benchmark.</p>'
from posts where slug = 'post-' || :n;
