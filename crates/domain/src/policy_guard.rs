//! The one policy, enforced on the code's shape: every read of content in the store takes
//! the request's [`Reader`](gazette_store::Reader) (and applies `store::visibility` with
//! it), or says in its name that it does not (`…_unchecked`) and is called only from the
//! domain's use cases, which check the policy next. Both halves are read from the syntax
//! tree: the store's function signatures, and the calls in the API, the worker and the
//! binary.

use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// The store's modules that read policy-governed content: posts, comments, tags, authors,
/// social channels, and the rows feeds and texts are built from (`sources`). The stored
/// documents (`feeds`, `summaries`) are not among them: they are written only from reads
/// as the public, so they are public by construction. Nor is `federation`: its rows are
/// the protocol's (remote actors and keys, follows, blocks, deliveries, which comment is
/// which remote note), none of them content a reader is shown; its like and boost counts
/// are read only for posts a resolver already holds.
const CONTENT_MODULES: &[&str] = &[
    "authors.rs",
    "channels.rs",
    "comments.rs",
    "export.rs",
    "imports.rs",
    "posts.rs",
    "sitemap.rs",
    "sources.rs",
    "tags.rs",
];

/// How a function that changes rows is named; every other function of a content module
/// is a read. (The policy for writes is the use cases' business: each checks the actor
/// before it calls the store.)
const WRITE_VERBS: &[&str] = &[
    "advance",
    "analyze",
    "begin",
    "claim",
    "commit",
    "delete",
    "insert",
    "lock",
    "publish",
    "record",
    "remove",
    "reserve",
    "set",
    "stage",
    "store",
    "tombstone",
    "update",
];

/// Code outside the domain that must read through the policy.
const CALLERS: &[&str] = &["crates/api/src", "crates/worker/src", "src"];

fn workspace() -> PathBuf {
    let domain = Path::new(env!("CARGO_MANIFEST_DIR"));
    domain
        .ancestors()
        .nth(2)
        .expect("crates/domain sits two levels under the workspace")
        .to_path_buf()
}

fn parse(path: &Path) -> syn::File {
    let text = std::fs::read_to_string(path).expect("a source file");
    syn::parse_file(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a source directory") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

/// Whether a type names `Reader` anywhere (`Reader`, `&Reader`, `Option<Reader>`…).
#[derive(Default)]
struct NamesReader(bool);

impl Visit<'_> for NamesReader {
    fn visit_ident(&mut self, ident: &proc_macro2::Ident) {
        self.0 |= ident == "Reader";
    }
}

/// What a store function's signature says about the policy.
#[derive(Debug, PartialEq, Eq)]
enum Guarded {
    Write,
    TakesReader,
    Unchecked,
    Neither,
}

fn classify(signature: &syn::Signature) -> Guarded {
    let name = signature.ident.to_string();
    if name.ends_with("_unchecked") {
        return Guarded::Unchecked;
    }
    let verb = name.split('_').next().unwrap_or_default();
    if WRITE_VERBS.contains(&verb) || name.contains("_or_create") {
        return Guarded::Write;
    }
    let mut names_reader = NamesReader::default();
    for input in &signature.inputs {
        if let syn::FnArg::Typed(argument) = input {
            names_reader.visit_type(&argument.ty);
        }
    }
    match names_reader.0 {
        true => Guarded::TakesReader,
        false => Guarded::Neither,
    }
}

/// The public async functions of one store module that read content without a reader and
/// without saying so.
fn unguarded_reads(file: &syn::File) -> Vec<String> {
    file.items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Fn(function)
                if matches!(function.vis, syn::Visibility::Public(_))
                    && function.sig.asyncness.is_some() =>
            {
                Some(&function.sig)
            }
            _ => None,
        })
        .filter(|signature| classify(signature) == Guarded::Neither)
        .map(|signature| signature.ident.to_string())
        .collect()
}

/// Every call of a function or method named `…_unchecked`.
#[derive(Default)]
struct UncheckedCalls(Vec<String>);

impl Visit<'_> for UncheckedCalls {
    fn visit_expr_path(&mut self, path: &syn::ExprPath) {
        if let Some(last) = path.path.segments.last()
            && last.ident.to_string().ends_with("_unchecked")
        {
            self.0.push(last.ident.to_string());
        }
        syn::visit::visit_expr_path(self, path);
    }

    fn visit_expr_method_call(&mut self, call: &syn::ExprMethodCall) {
        if call.method.to_string().ends_with("_unchecked") {
            self.0.push(call.method.to_string());
        }
        syn::visit::visit_expr_method_call(self, call);
    }

    fn visit_use_tree(&mut self, tree: &syn::UseTree) {
        let name = match tree {
            syn::UseTree::Name(name) => Some(&name.ident),
            syn::UseTree::Rename(rename) => Some(&rename.ident),
            _ => None,
        };
        if let Some(name) = name.filter(|name| name.to_string().ends_with("_unchecked")) {
            self.0.push(name.to_string());
        }
        syn::visit::visit_use_tree(self, tree);
    }
}

fn unchecked_calls(file: &syn::File) -> Vec<String> {
    let mut calls = UncheckedCalls::default();
    calls.visit_file(file);
    calls.0
}

#[test]
fn every_store_read_of_content_takes_the_reader_or_says_unchecked() {
    let store = workspace().join("crates/store/src");
    let mut offenders = Vec::new();
    for module in CONTENT_MODULES {
        for read in unguarded_reads(&parse(&store.join(module))) {
            offenders.push(format!("{module}: {read}"));
        }
    }
    assert!(
        offenders.is_empty(),
        "store reads with neither a Reader nor `_unchecked` in their name: {offenders:?}"
    );
}

#[test]
fn only_the_domain_calls_unchecked_reads() {
    let root = workspace();
    let mut offenders = Vec::new();
    for dir in CALLERS {
        let mut files = Vec::new();
        rust_files(&root.join(dir), &mut files);
        for file in files {
            let shown = file
                .strip_prefix(&root)
                .unwrap_or(&file)
                .display()
                .to_string();
            for call in unchecked_calls(&parse(&file)) {
                offenders.push(format!("{shown}: {call}"));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "unchecked reads outside the domain: {offenders:?}"
    );
}

/// The guard itself: it sees a read without a reader however it is written, and a call of
/// an unchecked read however it is spelled.
#[test]
fn the_guard_sees_what_it_guards() {
    let store = syn::parse_str::<syn::File>(r#"
        pub async fn page(exec: impl PgExecutor<'_>, window: &Window) -> Result<Vec<Tag>, StoreError> { Ok(Default::default()) }
        pub async fn visible(exec: impl PgExecutor<'_>, reader: &Reader) -> Result<Vec<Tag>, StoreError> { Ok(Default::default()) }
        pub async fn all_unchecked(exec: impl PgExecutor<'_>) -> Result<Vec<Tag>, StoreError> { Ok(Default::default()) }
        pub async fn insert(exec: impl PgExecutor<'_>, tag: &NewTag) -> Result<Tag, StoreError> { Ok(Default::default()) }
        async fn private_helper(exec: impl PgExecutor<'_>) -> Result<(), StoreError> { Ok(Default::default()) }
    "#)
    .expect("a store module");
    assert_eq!(unguarded_reads(&store), ["page"]);

    let caller = syn::parse_str::<syn::File>(
        r#"
        use gazette_store::tags::all_unchecked as everything;
        async fn resolver(pool: &PgPool) {
            let _ = tags::all_unchecked(pool).await;
            let _ = store.find_unchecked(1).await;
            let _ = tags::visible(pool, &reader).await;
        }
    "#,
    )
    .expect("a caller");
    assert_eq!(
        unchecked_calls(&caller),
        ["all_unchecked", "all_unchecked", "find_unchecked"]
    );
}
