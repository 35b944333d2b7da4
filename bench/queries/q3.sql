select p.id, p.title,
       (select json_agg(c) from (
           select c.id, c.author_name, c.body_html, c.created_at,
                  (select count(*) from comments r where r.parent_id = c.id and r.status = 'published') as replies,
                  (select json_agg(r) from (
                      select r.id, r.author_name, r.body_html, r.created_at from comments r
                      where r.parent_id = c.id and r.status = 'published' order by r.id limit 5) r) as page
           from comments c
           where c.post_id = p.id and c.parent_id is null and c.status = 'published'
           order by c.id limit 10) c)
from posts p
where p.status = 'published'
order by coalesce(p.published_at, p.created_at) desc, p.id desc
limit 20;
