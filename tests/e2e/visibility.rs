//! One visibility policy, proven from the schema: every field that returns a `Post` or a
//! `Comment` (or a page of them) is reached by generated queries, run without a token, over
//! a database holding drafts, an unpublished post with comments, pending and spam comments
//! and replies under them, a tag only drafts carry, an author with only drafts, and stale
//! summaries and digests the worker has not yet cleaned up. No answer may contain any of
//! them. A second test enumerates every mutation and proves it refuses anonymous and
//! author-role callers (on what is not theirs) unless it is public.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures_util::{StreamExt, stream};
use gazette_api::graphql::GlobalId;
use gazette_store::tokens::Role;
use serde_json::{Value, json};

use crate::support::{TestApp, add_comment, error_code};

/// Every hidden thing carries this word (in any case) in what it says.
const MARKER: &str = "hiddenmark";

const INTROSPECT: &str = r#"{ __schema { queryType { name } mutationType { name } subscriptionType { name }
  types { kind name possibleTypes { name }
    fields { name args { name defaultValue type { ...T } } type { ...T } } } } }
  fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }"#;

/// A type reference reduced to what the generator needs.
#[derive(Debug, Clone)]
struct TypeRef {
    name: String,
    kind: String,
    non_null: bool,
    list: bool,
}

impl TypeRef {
    fn from(value: &Value) -> Self {
        let mut current = value;
        let non_null = current["kind"] == "NON_NULL";
        let mut list = false;
        while current["name"].is_null() {
            if current["kind"] == "LIST" {
                list = true;
            }
            current = &current["ofType"];
        }
        Self {
            name: current["name"].as_str().unwrap_or_default().to_owned(),
            kind: current["kind"].as_str().unwrap_or_default().to_owned(),
            non_null,
            list,
        }
    }

    fn is_leaf(&self) -> bool {
        matches!(self.kind.as_str(), "SCALAR" | "ENUM")
    }
}

#[derive(Debug, Clone)]
struct Arg {
    name: String,
    ty: TypeRef,
    has_default: bool,
}

#[derive(Debug, Clone)]
struct Field {
    name: String,
    args: Vec<Arg>,
    ty: TypeRef,
}

#[derive(Debug, Default)]
struct Schema {
    types: BTreeMap<String, (String, Vec<Field>, Vec<String>)>,
    query: String,
    mutation: String,
    subscription: String,
}

impl Schema {
    async fn load(app: &TestApp) -> Self {
        let response = app.graphql(INTROSPECT, json!({})).await;
        let schema = &response["data"]["__schema"];
        let mut types = BTreeMap::new();
        for ty in schema["types"].as_array().expect("types") {
            let name = ty["name"].as_str().expect("name").to_owned();
            let fields = ty["fields"]
                .as_array()
                .map(|fields| {
                    fields
                        .iter()
                        .map(|field| Field {
                            name: field["name"].as_str().expect("field").to_owned(),
                            args: field["args"]
                                .as_array()
                                .expect("args")
                                .iter()
                                .map(|arg| Arg {
                                    name: arg["name"].as_str().expect("arg").to_owned(),
                                    ty: TypeRef::from(&arg["type"]),
                                    has_default: !arg["defaultValue"].is_null(),
                                })
                                .collect(),
                            ty: TypeRef::from(&field["type"]),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let possible = ty["possibleTypes"]
                .as_array()
                .map(|types| {
                    types
                        .iter()
                        .filter_map(|t| t["name"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            let kind = ty["kind"].as_str().expect("kind").to_owned();
            types.insert(name, (kind, fields, possible));
        }
        Self {
            types,
            query: schema["queryType"]["name"]
                .as_str()
                .expect("query")
                .to_owned(),
            mutation: schema["mutationType"]["name"]
                .as_str()
                .expect("mutation")
                .to_owned(),
            subscription: schema["subscriptionType"]["name"]
                .as_str()
                .expect("subscription")
                .to_owned(),
        }
    }

    fn fields(&self, ty: &str) -> &[Field] {
        self.types.get(ty).map_or(&[], |(_, fields, _)| fields)
    }

    fn possible(&self, ty: &str) -> &[String] {
        self.types.get(ty).map_or(&[], |(_, _, possible)| possible)
    }

    /// Whether values of `ty` are posts or comments, or pages or interfaces that hold them.
    fn yields_content(&self, ty: &str) -> bool {
        match ty {
            "Post" | "Comment" => true,
            _ if ty.ends_with("Connection") || ty.ends_with("Edge") => {
                self.fields(ty).iter().any(|field| {
                    matches!(field.name.as_str(), "nodes" | "node")
                        && self.yields_content(&field.ty.name)
                })
            }
            _ => self
                .possible(ty)
                .iter()
                .any(|possible| possible == "Post" || possible == "Comment"),
        }
    }

    /// Every (type, field) whose values are posts or comments.
    fn content_fields(&self) -> BTreeSet<(String, String)> {
        self.types
            .iter()
            .filter(|(name, _)| !name.starts_with("__"))
            .flat_map(|(name, (_, fields, _))| {
                fields
                    .iter()
                    .filter(|field| {
                        self.yields_content(&field.ty.name)
                            && !field.ty.name.ends_with("Connection")
                            && !field.ty.name.ends_with("Edge")
                    })
                    .map(move |field| (name.clone(), field.name.clone()))
            })
            .collect()
    }
}

/// Builds selection sets that expand every field, to a depth, recording which fields that
/// yield posts or comments it selected.
struct Generator<'a> {
    schema: &'a Schema,
    covered: BTreeSet<(String, String)>,
}

impl Generator<'_> {
    /// `ty` selected to `depth` further object levels (pages and edges are free).
    fn selection(&mut self, ty: &str, depth: usize) -> String {
        let mut parts = vec!["__typename".to_owned()];
        let (kind, _, _) = &self.schema.types[ty];
        if kind == "INTERFACE" || kind == "UNION" {
            for possible in self.schema.possible(ty).to_vec() {
                parts.push(format!(
                    "... on {possible} {{ {} }}",
                    self.selection(&possible, depth)
                ));
            }
            return parts.join(" ");
        }
        for field in self.schema.fields(ty).to_vec() {
            let required = field
                .args
                .iter()
                .any(|arg| arg.ty.non_null && !arg.has_default);
            if required {
                continue;
            }
            let args = if field.args.iter().any(|arg| arg.name == "first") {
                "(first: 3)"
            } else {
                ""
            };
            if field.ty.is_leaf() {
                parts.push(format!("{}{args}", field.name));
                continue;
            }
            let free = field.ty.name.ends_with("Connection")
                || field.ty.name.ends_with("Edge")
                || field.ty.name == "PageInfo";
            if !free && depth == 0 {
                continue;
            }
            if self.schema.yields_content(&field.ty.name) {
                self.covered.insert((ty.to_owned(), field.name.clone()));
            }
            let next = if free { depth } else { depth - 1 };
            parts.push(format!(
                "{}{args} {{ {} }}",
                field.name,
                self.selection(&field.ty.name, next)
            ));
        }
        parts.join(" ")
    }
}

/// What the hidden world holds: ids and slugs to ask for, and ids that must never come back.
struct World {
    hidden_ids: Vec<String>,
    visible_ids: Vec<String>,
    channel_ids: Vec<String>,
    slugs: Vec<String>,
    visible_slug: String,
    /// A comment on the unpublished post, with its edit token (still within 15 minutes).
    comment_on_unpublished: (String, String),
}

fn numeric(id: &str) -> i64 {
    GlobalId::parse(id).expect("a global id").id
}

async fn ok(app: &TestApp, token: Option<&str>, query: &str, variables: Value) -> Value {
    let response = app.graphql_as(token, query, variables).await;
    assert!(response.get("errors").is_none(), "{query}: {response}");
    response["data"].clone()
}

/// Builds the world through the API (and, for what only the worker writes, the database).
async fn hidden_world(app: &TestApp) -> World {
    let admin = app.token("Second Admin", Role::Admin).await;
    let writer = app.token("Writer A", Role::Author).await;
    let secretive = app.token("Hiddenmark Secretive", Role::Author).await;
    let create = async |token: &str, input: Value| -> Value { app.create_post(token, input).await };

    let visible = create(
        &writer,
        json!({ "title": "Visible post", "body": "visible body", "tags": ["Government", "Open"], "status": "PUBLISHED" }),
    )
    .await;
    let draft = create(
        &writer,
        json!({ "title": "Draft hiddenmark", "body": "hiddenmark draft body", "tags": ["Government", "hiddenmark-tag"] }),
    )
    .await;
    let secretive_draft = create(
        &secretive,
        json!({ "title": "Hiddenmark plans", "body": "hiddenmark", "tags": ["Open"] }),
    )
    .await;
    let unpublished = create(
        &writer,
        json!({ "title": "Soon withdrawn", "body": "public for a while", "tags": ["Government"], "status": "PUBLISHED" }),
    )
    .await;
    let visible_id = visible["id"].as_str().expect("id").to_owned();
    let unpublished_id = unpublished["id"].as_str().expect("id").to_owned();

    let comment = async |token: Option<&str>,
                         post: &str,
                         parent: Option<&str>,
                         body: &str|
           -> (String, String) {
        let mut input = json!({ "postId": post, "authorName": "Reader", "body": body });
        if let Some(parent) = parent {
            input["parentId"] = json!(parent);
        }
        let response = add_comment(app, token, input).await;
        assert!(response.get("errors").is_none(), "{response}");
        let payload = &response["data"]["addComment"];
        (
            payload["comment"]["id"].as_str().expect("id").to_owned(),
            payload["editToken"].as_str().unwrap_or_default().to_owned(),
        )
    };
    let (visible_comment, _) = comment(None, &visible_id, None, "visible comment").await;
    let links = "http://a.example http://b.example";
    let (pending, _) = comment(
        None,
        &visible_id,
        None,
        &format!("hiddenmark pending {links}"),
    )
    .await;
    let (spam, _) = comment(None, &visible_id, None, "hiddenmark spam").await;
    ok(
        app,
        Some(&admin),
        "mutation($id: ID!) { markCommentSpam(input: {id: $id}) { comment { status } } }",
        json!({ "id": spam }),
    )
    .await;
    let (under_pending, _) = comment(
        Some(&writer),
        &visible_id,
        Some(&pending),
        "hiddenmark under pending",
    )
    .await;
    let (under_spam, _) = comment(
        Some(&writer),
        &visible_id,
        Some(&spam),
        "hiddenmark under spam",
    )
    .await;
    let (pending_reply, _) = comment(
        None,
        &visible_id,
        Some(&visible_comment),
        &format!("hiddenmark pending reply {links}"),
    )
    .await;
    let (on_unpublished, edit_token) = comment(
        None,
        &unpublished_id,
        None,
        "hiddenmark said while it was public",
    )
    .await;
    ok(
        app,
        Some(&writer),
        "mutation($id: ID!) { unpublishPost(input: {id: $id}) { post { status } } }",
        json!({ "id": unpublished_id }),
    )
    .await;
    ok(
        app,
        Some(&writer),
        "mutation($id: ID!) { updatePost(input: {id: $id, title: \"Hiddenmark rework\", body: \"hiddenmark new draft\"}) { post { id } } }",
        json!({ "id": unpublished_id }),
    )
    .await;

    // What the worker would write and has not cleaned up yet (it is not running here):
    // summaries of the unpublished post and the draft, and digests that still name the
    // unpublished post. (The digest's own text is the worker's to rewrite; it is not marked.)
    let channels = ok(app, None, "{ channels { id } }", json!({})).await;
    let channel_ids: Vec<String> = channels["channels"]
        .as_array()
        .expect("channels")
        .iter()
        .map(|channel| channel["id"].as_str().expect("id").to_owned())
        .collect();
    for channel in &channel_ids {
        let draft_id = draft["id"].as_str().expect("id").to_owned();
        for (post, text) in [
            (&unpublished_id, "Hiddenmark: a summary"),
            (&draft_id, "Hiddenmark: a summary"),
            (&visible_id, "A summary"),
        ] {
            sqlx::query(
                "insert into channel_summaries (key, channel_id, post_id, body, content_hash, length, char_limit) \
                 values ($1 || '/' || $2, $1, $2, $3, 'h', 21, 280)",
            )
            .bind(numeric(channel))
            .bind(numeric(post))
            .bind(text)
            .execute(&app.pool)
            .await
            .expect("summary");
        }
        let details = json!({
            "posts": [numeric(&unpublished_id), numeric(&visible_id)],
            "feedback": [[numeric(&unpublished_id), 3], [numeric(&visible_id), 1]],
        });
        sqlx::query(
            "insert into channel_digests (channel_id, period_start, period_end, body, details, length, char_limit, truncated, content_hash) \
             values ($1, now() - interval '1 hour', now() + interval '1 hour', 'Digest', $2, 6, 280, false, 'h')",
        )
        .bind(numeric(channel))
        .bind(details.to_string())
        .execute(&app.pool)
        .await
        .expect("digest");
    }

    let tag = ok(
        app,
        Some(&admin),
        r#"{ secret: tag(slug: "hiddenmark-tag") { id } open: tag(slug: "government") { id } }"#,
        json!({}),
    )
    .await;
    let secretive_author = ok(
        app,
        Some(&secretive),
        "{ viewer { author { id slug } } }",
        json!({}),
    )
    .await;
    let writer_author = ok(
        app,
        Some(&writer),
        "{ viewer { author { id slug } } }",
        json!({}),
    )
    .await;
    World {
        hidden_ids: vec![
            draft["id"].as_str().expect("id").to_owned(),
            secretive_draft["id"].as_str().expect("id").to_owned(),
            unpublished_id.clone(),
            pending,
            spam,
            under_pending,
            under_spam,
            pending_reply,
            on_unpublished.clone(),
            tag["secret"]["id"].as_str().expect("tag").to_owned(),
            secretive_author["viewer"]["author"]["id"]
                .as_str()
                .expect("author")
                .to_owned(),
        ],
        visible_ids: vec![
            visible_id,
            visible_comment,
            tag["open"]["id"].as_str().expect("tag").to_owned(),
            writer_author["viewer"]["author"]["id"]
                .as_str()
                .expect("author")
                .to_owned(),
        ],
        channel_ids,
        slugs: vec![
            "hiddenmark-tag".to_owned(),
            draft["slug"].as_str().expect("slug").to_owned(),
            unpublished["slug"].as_str().expect("slug").to_owned(),
            secretive_author["viewer"]["author"]["slug"]
                .as_str()
                .expect("slug")
                .to_owned(),
            "government".to_owned(),
            visible["slug"].as_str().expect("slug").to_owned(),
        ],
        visible_slug: visible["slug"].as_str().expect("slug").to_owned(),
        comment_on_unpublished: (on_unpublished, edit_token),
    }
}

/// Argument values to try for one root argument, as GraphQL literals (`None`: left out).
fn argument_values(arg: &Arg, world: &World) -> Vec<Option<String>> {
    let quoted = |values: &[String]| -> Vec<Option<String>> {
        values
            .iter()
            .map(|value| Some(format!("{value:?}")))
            .collect()
    };
    let mut values: Vec<Option<String>> = match (arg.ty.name.as_str(), arg.name.as_str()) {
        ("ID", _) if arg.ty.list => {
            let all: Vec<String> = world
                .hidden_ids
                .iter()
                .chain(&world.visible_ids)
                .map(|id| format!("{id:?}"))
                .collect();
            vec![Some(format!("[{}]", all.join(", ")))]
        }
        ("ID", "channel") => quoted(&world.channel_ids[..world.channel_ids.len().min(2)]),
        ("ID", _) => {
            let mut ids = world.hidden_ids.clone();
            ids.extend(world.visible_ids.iter().cloned());
            quoted(&ids)
        }
        ("String", "slug") => quoted(&world.slugs),
        ("PostFilter", _) => [
            "{status: DRAFT}",
            r#"{tag: "hiddenmark-tag"}"#,
            r#"{tag: "government"}"#,
            r#"{authorSlug: "hiddenmark-secretive"}"#,
            r#"{search: "hiddenmark"}"#,
            r#"{status: DRAFT, tag: "government"}"#,
        ]
        .iter()
        .map(|filter| Some((*filter).to_owned()))
        .collect(),
        _ => vec![],
    };
    if !arg.ty.non_null || values.is_empty() {
        values.push(None);
    }
    values
}

/// Every combination of the values to try, capped.
fn combinations(args: &[Arg], world: &World) -> Vec<String> {
    let mut combos: Vec<Vec<String>> = vec![vec![]];
    for arg in args {
        let mut next = Vec::new();
        for combo in &combos {
            for value in argument_values(arg, world) {
                let mut extended = combo.clone();
                if let Some(value) = value {
                    extended.push(format!("{}: {value}", arg.name));
                }
                next.push(extended);
            }
        }
        combos = next.into_iter().take(400).collect();
    }
    combos
        .into_iter()
        .map(|parts| {
            if parts.is_empty() {
                String::new()
            } else {
                format!("({})", parts.join(", "))
            }
        })
        .collect()
}

/// An answer for the anonymous public: nothing hidden, no internal failure.
fn assert_reveals_nothing(query: &str, response: &str, world: &World) {
    let lowercase = response.to_lowercase();
    let query = excerpt(query, 0, 300);
    if let Some(at) = lowercase.find(MARKER) {
        panic!(
            "a hidden thing leaked through {query}…\n…{}…",
            excerpt(response, at.saturating_sub(300), 600)
        );
    }
    for id in &world.hidden_ids {
        if let Some(at) = response.find(id.as_str()) {
            panic!(
                "hidden id {id} leaked through {query}…\n…{}…",
                excerpt(response, at.saturating_sub(300), 600)
            );
        }
    }
    if let Some(at) = response.find("\"INTERNAL\"") {
        panic!(
            "internal error from {query}…\n…{}…",
            excerpt(response, at.saturating_sub(300), 400)
        );
    }
}

/// `len` bytes of `text` from `start`, cut at character boundaries.
fn excerpt(text: &str, start: usize, len: usize) -> &str {
    let mut start = start.min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (start + len).min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[start..end]
}

#[tokio::test]
async fn anonymous_readers_never_see_hidden_posts_or_comments() {
    let app = TestApp::spawn_with(
        true,
        false,
        &[
            // This test is about visibility, not cost: let the generated queries through.
            "--graphql-max-complexity",
            "10000000",
            "--graphql-max-depth",
            "200",
            "--graphql-max-query-bytes",
            "1048576",
            "--graphql-max-aliases",
            "10000",
            "--graphql-max-tokens",
            "1000000",
            "--graphql-max-refusals-per-minute",
            "0",
            "--comment-rate-limit",
            "0",
        ],
    )
    .await;
    let world = hidden_world(&app).await;
    let schema = Schema::load(&app).await;
    let mut generator = Generator {
        schema: &schema,
        covered: BTreeSet::new(),
    };

    let mut queries = Vec::new();
    for field in schema.fields(&schema.query).to_vec() {
        let selection = if field.ty.is_leaf() {
            String::new()
        } else {
            if schema.yields_content(&field.ty.name) {
                generator
                    .covered
                    .insert((schema.query.clone(), field.name.clone()));
            }
            format!("{{ {} }}", generator.selection(&field.ty.name, 3))
        };
        for args in combinations(&field.args, &world) {
            queries.push(format!("{{ {}{args} {selection} }}", field.name));
        }
    }
    // Every field that yields posts or comments is exercised, except on the mutation and
    // subscription roots' payloads (tested below and in the socket tests).
    let roots_elsewhere: Vec<&String> = schema
        .fields(&schema.mutation)
        .iter()
        .chain(schema.fields(&schema.subscription))
        .map(|field| &field.ty.name)
        .collect();
    let uncovered: Vec<_> = schema
        .content_fields()
        .into_iter()
        .filter(|(ty, _)| {
            ty != &schema.mutation && ty != &schema.subscription && !roots_elsewhere.contains(&ty)
        })
        .filter(|key| !generator.covered.contains(key))
        .collect();
    assert!(uncovered.is_empty(), "not exercised: {uncovered:?}");

    let client = app.client.clone();
    let url = app.url("/graphql");
    let answers: Vec<(String, String)> = stream::iter(queries)
        .map(|query| {
            let client = client.clone();
            let url = url.clone();
            async move {
                let response = client
                    .post(url)
                    .json(&json!({ "query": query }))
                    .send()
                    .await
                    .expect("request");
                let status = response.status();
                let body = response.text().await.expect("body");
                assert!(status.is_success(), "{query}: {status} {body}");
                (query, body)
            }
        })
        // Two at a time: a deep query's loaders can hold several of the server's ten
        // connections at once, and six together could wait past the pool's 3 s on a busy
        // machine and get the documented 503 back-pressure (reliability's scenario 5),
        // which says nothing about visibility.
        .buffer_unordered(2)
        .collect()
        .await;
    let mut saw_visible = false;
    for (query, response) in &answers {
        assert_reveals_nothing(query, response, &world);
        saw_visible |= response.contains("visible comment");
        // A query refused by a limit would prove nothing about visibility.
        for limit in [
            "QUERY_TOO_",
            "TOO_MANY_",
            "RESPONSE_TOO_LARGE",
            "RATE_LIMITED",
        ] {
            assert!(!response.contains(limit), "{query}: {response}");
        }
    }
    assert!(saw_visible, "the generated queries reach real content");
    assert!(answers.len() > 100, "{} queries", answers.len());

    // The comment payload of a commenter's own edit does not open its unpublished post.
    let (comment, token) = &world.comment_on_unpublished;
    for mutation in [
        "mutation($id: ID!, $token: String!) { editComment(input: {id: $id, editToken: $token, body: \"edited\"}) { comment { body post { title body } } } }",
        "mutation($id: ID!, $token: String) { deleteComment(input: {id: $id, editToken: $token}) { comment { post { title body } } } }",
    ] {
        let response = app
            .graphql(mutation, json!({ "id": comment, "token": token }))
            .await;
        assert_eq!(error_code(&response), Some("NOT_FOUND"), "{response}");
        assert_reveals_nothing(mutation, &response.to_string(), &world);
    }

    // The public pages say the same.
    for path in [
        "/tags/hiddenmark-tag".to_owned(),
        format!("/posts/{}", world.slugs[1]),
        format!("/posts/{}", world.slugs[2]),
        format!("/posts/{}", world.visible_slug),
        "/tags/government".to_owned(),
    ] {
        let page = app.get(&path).await.text().await.expect("page");
        assert_reveals_nothing(&path, &page, &world);
    }
    app.stop().await;
}

/// Who may call a mutation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Audience {
    /// Anyone (edits and deletions then need the comment's edit token).
    Public,
    /// Token holders, on what is theirs (admins on everything).
    Authors,
    /// Any token holder (nothing in it is anyone else's): anonymous callers are refused.
    TokenHolders,
    /// Admins only.
    Admins,
}

/// Every mutation, who may call it, and an input that targets what belongs to someone else
/// (the admin). A mutation missing here fails the test: each must be classified.
fn mutation_cases(fixture: &HashMap<&str, String>) -> BTreeMap<&'static str, (Audience, Value)> {
    let id = |name: &str| json!(fixture[name]);
    BTreeMap::from([
        (
            "addComment",
            (
                Audience::Public,
                json!({ "postId": id("post"), "authorName": "Anon", "body": "hi" }),
            ),
        ),
        (
            "editComment",
            (
                Audience::Public,
                json!({ "id": id("comment"), "editToken": "00", "body": "x" }),
            ),
        ),
        (
            "deleteComment",
            (Audience::Public, json!({ "id": id("comment") })),
        ),
        (
            "createPost",
            (
                Audience::Authors,
                json!({ "title": "Ghost", "authorId": id("admin") }),
            ),
        ),
        (
            "updatePost",
            (
                Audience::Authors,
                json!({ "id": id("post"), "title": "Changed" }),
            ),
        ),
        (
            "publishPost",
            (Audience::Authors, json!({ "id": id("draft") })),
        ),
        (
            "unpublishPost",
            (Audience::Authors, json!({ "id": id("post") })),
        ),
        (
            "schedulePost",
            (
                Audience::Authors,
                json!({ "id": id("draft"), "publishAt": "2099-01-01T00:00:00Z" }),
            ),
        ),
        (
            "unschedulePost",
            (Audience::Authors, json!({ "id": id("draft") })),
        ),
        (
            "deletePost",
            (Audience::Authors, json!({ "id": id("post") })),
        ),
        (
            "approveComment",
            (Audience::Authors, json!({ "id": id("pending") })),
        ),
        (
            "markCommentSpam",
            (Audience::Authors, json!({ "id": id("comment") })),
        ),
        (
            "createChannel",
            (
                Audience::Admins,
                json!({ "name": "Ours", "kind": "TWITTER", "url": "https://x.example/ours" }),
            ),
        ),
        (
            "updateChannel",
            (
                Audience::Admins,
                json!({ "id": id("channel"), "name": "Theirs" }),
            ),
        ),
        (
            "deleteChannel",
            (Audience::Admins, json!({ "id": id("channel") })),
        ),
        // Federation's admin mutations: with federation off they still refuse everyone
        // but admins first.
        (
            "blockFederatedActor",
            (
                Audience::Admins,
                json!({ "actor": "https://social.example/users/a" }),
            ),
        ),
        (
            "unblockFederatedActor",
            (
                Audience::Admins,
                json!({ "actor": "https://social.example/users/a" }),
            ),
        ),
        (
            "blockFederatedInstance",
            (Audience::Admins, json!({ "host": "social.example" })),
        ),
        (
            "unblockFederatedInstance",
            (Audience::Admins, json!({ "host": "social.example" })),
        ),
        (
            "followFederatedActor",
            (
                Audience::Admins,
                json!({ "actor": "https://social.example/users/a" }),
            ),
        ),
        (
            "unfollowFederatedActor",
            (
                Audience::Admins,
                json!({ "actor": "https://social.example/users/a" }),
            ),
        ),
        (
            "deleteFederatedReply",
            (Audience::TokenHolders, json!({ "id": 1 })),
        ),
        (
            "replyToFederatedPost",
            (
                Audience::TokenHolders,
                json!({ "objectId": "https://social.example/notes/1", "body": "Hello" }),
            ),
        ),
        (
            "removeFederationFollower",
            (
                Audience::Admins,
                json!({ "actor": "https://social.example/users/a" }),
            ),
        ),
        (
            "approveFederationFollower",
            (
                Audience::Admins,
                json!({ "actor": "https://social.example/users/a" }),
            ),
        ),
        (
            "createWebhook",
            (
                Audience::Admins,
                json!({ "url": "https://hooks.example/new", "events": ["post.published"] }),
            ),
        ),
        (
            "updateWebhook",
            (
                Audience::Admins,
                json!({ "id": id("webhook"), "description": "taken over" }),
            ),
        ),
        (
            "deleteWebhook",
            (Audience::Admins, json!({ "id": id("webhook") })),
        ),
        (
            "rotateWebhookSecret",
            (Audience::Admins, json!({ "id": id("webhook") })),
        ),
        (
            "disableWebhook",
            (Audience::Admins, json!({ "id": id("webhook") })),
        ),
        (
            "enableWebhook",
            (Audience::Admins, json!({ "id": id("webhook") })),
        ),
        (
            "sendTestWebhook",
            (Audience::Admins, json!({ "id": id("webhook") })),
        ),
        (
            "redeliverWebhookEvent",
            (
                Audience::Admins,
                json!({ "webhookId": id("webhook"), "eventId": "msg_1" }),
            ),
        ),
    ])
}

/// `input` with every value wrong in what it means (ids that are not ids, dates in the
/// past, an empty title, an address that is not one), but of the right GraphQL types.
fn garbled(input: &Value) -> Value {
    let mut garbled = input.clone();
    if let Some(fields) = garbled.as_object_mut() {
        for (key, value) in fields.iter_mut() {
            *value = match key.as_str() {
                "id" | "postId" | "authorId" => json!("not-an-id"),
                "publishAt" | "publishedAt" => json!("2000-01-01T00:00:00Z"),
                "title" | "name" | "body" => json!(""),
                "url" => json!("javascript:alert(1)"),
                _ => value.clone(),
            };
        }
    }
    garbled
}

/// Everything a mutation could change, as one digest.
async fn fingerprint(app: &TestApp) -> String {
    let mut parts = Vec::new();
    for table in [
        "posts",
        "comments",
        "tags",
        "post_tags",
        "authors",
        "social_channels",
        "webhooks",
        "webhook_deliveries",
    ] {
        let digest: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "select md5(string_agg(t::text, '|' order by t::text)) from {table} t"
        )))
        .fetch_one(&app.pool)
        .await
        .expect("digest");
        parts.push(digest.unwrap_or_default());
    }
    parts.join(",")
}

#[tokio::test]
async fn every_mutation_refuses_callers_it_is_not_for() {
    let app = TestApp::spawn_with(true, false, &["--comment-rate-limit", "0"]).await;
    let admin = app.token("Chief", Role::Admin).await;
    let author = app.token("Other Author", Role::Author).await;
    let post = app
        .create_post(
            &admin,
            json!({ "title": "The admin's", "status": "PUBLISHED" }),
        )
        .await;
    let draft = app
        .create_post(&admin, json!({ "title": "The admin's draft" }))
        .await;
    let post_id = post["id"].as_str().expect("id").to_owned();
    let comment = add_comment(
        &app,
        None,
        json!({ "postId": post_id, "authorName": "A", "body": "first" }),
    )
    .await;
    let pending = add_comment(
        &app,
        None,
        json!({ "postId": post_id, "authorName": "B", "body": "http://a.example http://b.example" }),
    )
    .await;
    let channels = app.graphql("{ channels { id } }", json!({})).await;
    // An endpoint as an admin would have made it (this site may not call out to make one).
    let webhook: i64 = sqlx::query_scalar(
        "insert into webhooks (url, events, secret_sealed) \
         values ('https://hooks.example/in', '{post.published}', '\\x00') returning id",
    )
    .fetch_one(&app.pool)
    .await
    .expect("a webhook");
    let admin_author = app
        .graphql_as(Some(&admin), "{ viewer { author { id } } }", json!({}))
        .await;
    let fixture = HashMap::from([
        ("post", post_id.clone()),
        ("draft", draft["id"].as_str().expect("id").to_owned()),
        (
            "comment",
            comment["data"]["addComment"]["comment"]["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        ),
        (
            "pending",
            pending["data"]["addComment"]["comment"]["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        ),
        (
            "channel",
            channels["data"]["channels"][0]["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        ),
        ("webhook", webhook.to_string()),
        (
            "admin",
            admin_author["data"]["viewer"]["author"]["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        ),
    ]);
    let cases = mutation_cases(&fixture);

    let schema = Schema::load(&app).await;
    let mutations: BTreeSet<String> = schema
        .fields(&schema.mutation)
        .iter()
        .map(|field| field.name.clone())
        .collect();
    let classified: BTreeSet<String> = cases.keys().map(|name| (*name).to_owned()).collect();
    assert_eq!(mutations, classified, "every mutation is classified here");

    for (name, (audience, input)) in &cases {
        let field = schema
            .fields(&schema.mutation)
            .iter()
            .find(|field| field.name == *name)
            .expect("mutation");
        let input_type = &field.args[0].ty.name;
        let query =
            format!("mutation($input: {input_type}!) {{ {name}(input: $input) {{ __typename }} }}");
        let callers: Vec<(&str, Option<&str>)> = match audience {
            // Anyone may call these: without the edit token (or as a stranger to the post)
            // they must still refuse to touch someone else's comment.
            Audience::Public => vec![("a stranger", None), ("another author", Some(&author))],
            Audience::Authors | Audience::Admins => {
                vec![("anonymous", None), ("another author", Some(&author))]
            }
            Audience::TokenHolders => vec![("anonymous", None)],
        };
        for (who, token) in callers {
            if *name == "addComment" {
                continue;
            }
            let before = fingerprint(&app).await;
            let response = app
                .graphql_as(token, &query, json!({ "input": input }))
                .await;
            let code = error_code(&response);
            let expected: &[&str] = match token {
                None => &["UNAUTHENTICATED", "FORBIDDEN"],
                Some(_) => &["FORBIDDEN", "NOT_FOUND"],
            };
            assert!(
                code.is_some_and(|code| expected.contains(&code)),
                "{name} as {who}: {response}"
            );
            assert_eq!(
                fingerprint(&app).await,
                before,
                "{name} as {who} changed something"
            );
        }
    }

    // Issue 20, item 12: a mutation that needs a token refuses an anonymous caller before it
    // looks at the input, however wrong the input is.
    for (name, (audience, input)) in &cases {
        if *audience == Audience::Public {
            continue;
        }
        let field = schema
            .fields(&schema.mutation)
            .iter()
            .find(|field| field.name == *name)
            .expect("mutation");
        let query = format!(
            "mutation($input: {}!) {{ {name}(input: $input) {{ __typename }} }}",
            field.args[0].ty.name
        );
        let response = app
            .graphql(&query, json!({ "input": garbled(input) }))
            .await;
        assert_eq!(
            error_code(&response),
            Some("UNAUTHENTICATED"),
            "{name} with a garbled input: {response}"
        );
    }

    // addComment is public: anyone may comment on a published post.
    let (_, input) = &cases["addComment"];
    let added = app
        .graphql(
            "mutation($input: AddCommentInput!) { addComment(input: $input) { comment { id } } }",
            json!({ "input": input }),
        )
        .await;
    assert!(added.get("errors").is_none(), "{added}");
    app.stop().await;
}

#[tokio::test]
async fn unpublishing_withdraws_what_the_worker_wrote_at_once() {
    // No worker: what it wrote stays until the unpublishing transaction removes it.
    let app = TestApp::spawn_with(true, false, &[]).await;
    let writer = app.token("Writer", Role::Author).await;
    let post = app
        .create_post(
            &writer,
            json!({ "title": "Short lived", "status": "PUBLISHED" }),
        )
        .await;
    let post_id = numeric(post["id"].as_str().expect("id"));
    let slug = post["slug"].as_str().expect("slug").to_owned();
    let feed_key = format!("posts/{slug}/comments/feed.xml");
    sqlx::query(
        "insert into generated_feeds (key, content_type, body, content_hash, item_count) \
         values ($1, 'application/rss+xml; charset=utf-8', '<rss/>', 'h', 0)",
    )
    .bind(&feed_key)
    .execute(&app.pool)
    .await
    .expect("feed");
    sqlx::query(
        "insert into channel_summaries (key, channel_id, post_id, body, content_hash, length, char_limit) \
         select c.id || '/' || $1, c.id, $1, 'Short lived', 'h', 11, 280 from social_channels c",
    )
    .bind(post_id)
    .execute(&app.pool)
    .await
    .expect("summaries");
    assert_eq!(app.get(&format!("/{feed_key}")).await.status(), 200);

    ok(
        &app,
        Some(&writer),
        "mutation($id: ID!) { unpublishPost(input: {id: $id}) { post { status } } }",
        json!({ "id": post["id"] }),
    )
    .await;
    let summaries: i64 =
        sqlx::query_scalar("select count(*) from channel_summaries where post_id = $1")
            .bind(post_id)
            .fetch_one(&app.pool)
            .await
            .expect("count");
    assert_eq!(summaries, 0);
    let gone = crate::support::eventually(50, || async {
        (app.get(&format!("/{feed_key}")).await.status() == 404).then_some(())
    })
    .await;
    assert!(gone.is_some(), "the comments feed of a draft is not served");
    app.stop().await;
}
