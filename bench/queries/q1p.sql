\set n random(1, 1000)
select p.id, p.slug, p.title, p.excerpt, p.published_at, a.name, a.slug,
       (select json_agg(json_build_object('name', t.name, 'slug', t.slug) order by pt.position)
          from post_tags pt join tags t on t.id = pt.tag_id where pt.post_id = p.id),
       (select count(*) from comments c where c.post_id = p.id and c.status = 'published')
from posts p join authors a on a.id = p.author_id
where p.status = 'published'
  and (coalesce(p.published_at, p.created_at), p.id)
      < (select coalesce(b.published_at, b.created_at), b.id from posts b where b.slug = 'post-' || :n)
order by coalesce(p.published_at, p.created_at) desc, p.id desc
limit 20;
