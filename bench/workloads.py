"""The benchmark's workloads: the same page asked of Gazette, of PostGraphile and of
PostgreSQL directly (raw SQL through pgbench), so the three numbers compare like with like.

Every GraphQL workload names the fields a real page shows; PostGraphile's query asks for
the same rows and columns through its own schema (with pg-simplify-inflector), and the SQL
is the cheapest statement we know that returns them.
"""

BIG_THREAD_SLUG = "big-thread"

# Q1: the front page.
Q1_GAZETTE = """query FrontPage {
  posts(first: 20) {
    edges { node { id slug title excerpt publishedAt author { name slug } tags { name slug } commentCount } }
  }
}"""
Q1_POSTGRAPHILE = """query FrontPage {
  posts(first: 20, orderBy: [PUBLISHED_AT_DESC, ID_DESC], condition: {status: "published"}) {
    nodes {
      id slug title excerpt publishedAt
      author { name slug }
      postTags(orderBy: POSITION_ASC) { nodes { tag { name slug } } }
      comments(condition: {status: "published"}) { totalCount }
    }
  }
}"""
Q1_SQL = """select p.id, p.slug, p.title, p.excerpt, p.published_at, a.name, a.slug,
       (select json_agg(json_build_object('name', t.name, 'slug', t.slug) order by pt.position)
          from post_tags pt join tags t on t.id = pt.tag_id where pt.post_id = p.id),
       (select count(*) from comments c where c.post_id = p.id and c.status = 'published')
from posts p join authors a on a.id = p.author_id
where p.status = 'published'
order by coalesce(p.published_at, p.created_at) desc, p.id desc
limit 20;
"""

# Q2: a post page with the first 100 comments of its (10,000-comment) thread.
Q2_GAZETTE = """query PostPage {
  post(slug: "%s") {
    id title bodyHtml publishedAt
    thread(first: 100) {
      edges { node { id parent { id } depth author { name } bodyHtml createdAt } }
    }
  }
}""" % BIG_THREAD_SLUG
Q2_POSTGRAPHILE = """query PostPage {
  postBySlug(slug: "%s") {
    id title bodyHtml publishedAt
    comments(first: 100, orderBy: PATH_ASC, condition: {status: "published"}) {
      nodes { id parentId depth authorName bodyHtml createdAt }
    }
  }
}""" % BIG_THREAD_SLUG
Q2_SQL = """select p.id, p.title, p.body_html, p.published_at,
       (select json_agg(c) from (
           select c.id, c.parent_id, c.depth, c.author_name, c.body_html, c.created_at
           from comments c where c.post_id = p.id and c.status = 'published'
           order by c.path limit 100) c)
from posts p where p.slug = '%s' and p.status = 'published';
""" % BIG_THREAD_SLUG

# Q3: the front page with two levels of comments under each post.
Q3_GAZETTE = """query NestedComments {
  posts(first: 20) {
    edges { node { id title comments(first: 10) { edges { node {
      id author { name } bodyHtml createdAt
      replies(first: 5) { totalCount edges { node { id author { name } bodyHtml createdAt } } }
    } } } } }
  }
}"""
Q3_POSTGRAPHILE = """query NestedComments {
  posts(first: 20, orderBy: [PUBLISHED_AT_DESC, ID_DESC], condition: {status: "published"}) {
    nodes { id title comments(first: 10, orderBy: ID_ASC, condition: {parentId: null, status: "published"}) { nodes {
      id authorName bodyHtml createdAt
      commentsByParentIdAndPostId(first: 5, orderBy: ID_ASC, condition: {status: "published"}) { totalCount nodes { id authorName bodyHtml createdAt } }
    } } }
  }
}"""
Q3_SQL = """select p.id, p.title,
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
"""

# C: posting a comment (moderation open, no rate limit) on one of the newest posts.
COMMENT_GAZETTE = """mutation AddComment($input: AddCommentInput!) {
  addComment(input: $input) { comment { id createdAt } }
}"""
COMMENT_POSTGRAPHILE = """mutation AddComment($input: CreateCommentInput!) {
  createComment(input: $input) { comment { id createdAt } }
}"""
COMMENT_SQL = """\\set n random(1, 100)
insert into comments (post_id, author_name, body, body_html)
select id, 'Bench reader', 'A comment from the benchmark.', '<p>A comment from the benchmark.</p>'
from posts where slug = 'post-' || :n;
"""

GRAPHQL_WORKLOADS = [
    # (key, title, Gazette query, PostGraphile query, SQL)
    ("q1", "Q1 front page", Q1_GAZETTE, Q1_POSTGRAPHILE, Q1_SQL),
    ("q2", "Q2 post page, 100 comments of the big thread", Q2_GAZETTE, Q2_POSTGRAPHILE, Q2_SQL),
    ("q3", "Q3 20 posts x 10 comments x 5 replies", Q3_GAZETTE, Q3_POSTGRAPHILE, Q3_SQL),
    ("comment", "addComment", COMMENT_GAZETTE, COMMENT_POSTGRAPHILE, COMMENT_SQL),
]
