\set n random_zipfian(1, :posts, 1.01)
select p.id, p.title, p.body_html, p.published_at,
       (select json_agg(c) from (
           select c.id, c.parent_id, c.depth, c.author_name, c.body_html, c.created_at
           from comments c where c.post_id = p.id and c.status = 'published'
           order by c.path limit 100) c)
from posts p where p.slug = 'post-' || :n and p.status = 'published';
