//! The schema's modules form no circle: every file under `graphql/` is read with `syn`,
//! every path it names through `super`, `self` or `crate::graphql` is resolved to the file
//! it lands in, and the resulting graph must have no cycle. A module's own children are
//! its business (a parent declares them), so edges from a parent to its children do not
//! count; everything else does.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// A module as a path under `graphql`: `[]` is `graphql` itself, `["http", "request"]` is
/// `graphql::http::request`.
type Module = Vec<String>;

fn modules(dir: &Path, prefix: &Module, found: &mut BTreeMap<Module, PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("the graphql directory") {
        let path = entry.expect("an entry").path();
        let name = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .expect("a file name")
            .to_owned();
        if path.is_dir() {
            let mut module = prefix.clone();
            module.push(name);
            if path.join("mod.rs").exists() {
                found.insert(module.clone(), path.join("mod.rs"));
                modules(&path, &module, found);
            }
        } else if path.extension().is_some_and(|ext| ext == "rs") && name != "mod" {
            let mut module = prefix.clone();
            module.push(name);
            found.insert(module, path);
        }
    }
}

/// The paths a file names that start at `super`, `self` or `crate`.
#[derive(Default)]
struct Paths(Vec<Vec<String>>);

impl Paths {
    fn keep(&mut self, segments: Vec<String>) {
        if matches!(
            segments.first().map(String::as_str),
            Some("super" | "self" | "crate")
        ) {
            self.0.push(segments);
        }
    }
}

impl Visit<'_> for Paths {
    fn visit_path(&mut self, path: &syn::Path) {
        self.keep(
            path.segments
                .iter()
                .map(|segment| segment.ident.to_string())
                .collect(),
        );
        syn::visit::visit_path(self, path);
    }

    fn visit_item_use(&mut self, item: &syn::ItemUse) {
        let mut stack = vec![(Vec::new(), &item.tree)];
        while let Some((prefix, tree)) = stack.pop() {
            match tree {
                syn::UseTree::Path(path) => {
                    let mut next = prefix.clone();
                    next.push(path.ident.to_string());
                    stack.push((next, &path.tree));
                }
                syn::UseTree::Name(name) => {
                    let mut full = prefix.clone();
                    full.push(name.ident.to_string());
                    self.keep(full);
                }
                syn::UseTree::Rename(rename) => {
                    let mut full = prefix.clone();
                    full.push(rename.ident.to_string());
                    self.keep(full);
                }
                syn::UseTree::Glob(_) => self.keep(prefix.clone()),
                syn::UseTree::Group(group) => {
                    for item in &group.items {
                        stack.push((prefix.clone(), item));
                    }
                }
            }
        }
    }
}

/// The module of `known` that `path`, named in `from`, lands in (the longest match).
fn resolve(from: &Module, path: &[String], known: &BTreeSet<Module>) -> Option<Module> {
    // `self` is the module itself (a `mod.rs` is its directory's module).
    let mut base: Module = from.clone();
    let mut rest = path;
    match rest.first().map(String::as_str) {
        Some("crate") => {
            if rest.get(1).map(String::as_str) != Some("graphql") {
                return None;
            }
            base = Vec::new();
            rest = &rest[2..];
        }
        Some("self") => rest = &rest[1..],
        Some("super") => {
            while rest.first().map(String::as_str) == Some("super") {
                base.pop()?;
                rest = &rest[1..];
            }
        }
        _ => return None,
    }
    let mut landed = base.clone();
    let mut best = known.contains(&base).then(|| base.clone());
    for segment in rest {
        landed.push(segment.clone());
        if known.contains(&landed) {
            best = Some(landed.clone());
        } else {
            break;
        }
    }
    best
}

fn graph() -> BTreeMap<Module, BTreeSet<Module>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/graphql");
    let mut files = BTreeMap::new();
    files.insert(Vec::new(), root.join("mod.rs"));
    modules(&root, &Vec::new(), &mut files);
    let known: BTreeSet<Module> = files.keys().cloned().collect();
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (module, file) in &files {
        let text = std::fs::read_to_string(file).expect("a source file");
        let syntax = syn::parse_file(&text).expect("a Rust file");
        let mut paths = Paths::default();
        paths.visit_file(&syntax);
        let targets = edges.entry(module.clone()).or_default();
        for path in &paths.0 {
            let Some(target) = resolve(module, path, &known) else {
                continue;
            };
            let own_child = target.len() > module.len() && target.starts_with(module);
            if target != *module && !own_child {
                targets.insert(target);
            }
        }
    }
    edges
}

/// A cycle of `edges`, if there is one.
fn cycle(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Option<Vec<Module>> {
    fn visit(
        node: &Module,
        edges: &BTreeMap<Module, BTreeSet<Module>>,
        done: &mut BTreeSet<Module>,
        path: &mut Vec<Module>,
    ) -> Option<Vec<Module>> {
        if let Some(start) = path.iter().position(|on| on == node) {
            return Some(path[start..].to_vec());
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.clone());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, edges, done, path) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.clone());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|node| visit(node, edges, &mut done, &mut Vec::new()))
}

#[test]
fn no_module_of_the_schema_imports_another_in_a_circle() {
    let edges = graph();
    assert!(
        edges.len() > 20,
        "the graph was read: {} modules",
        edges.len()
    );
    if let Some(found) = cycle(&edges) {
        let names: Vec<String> = found.iter().map(|module| module.join("::")).collect();
        panic!(
            "graphql modules import one another in a circle: {}",
            names.join(" → ")
        );
    }
}

#[test]
fn the_check_finds_a_circle() {
    let module = |name: &str| vec![name.to_owned()];
    let mut edges = BTreeMap::new();
    edges.insert(module("posts"), BTreeSet::from([module("authors")]));
    edges.insert(
        module("authors"),
        BTreeSet::from([module("connection"), module("posts")]),
    );
    edges.insert(module("connection"), BTreeSet::new());
    assert_eq!(
        cycle(&edges),
        Some(vec![module("authors"), module("posts")])
    );
    edges.insert(module("authors"), BTreeSet::from([module("connection")]));
    assert_eq!(cycle(&edges), None);
    // `super::objects::PostNode` from `posts` lands in `objects`.
    let known = BTreeSet::from([vec![], module("posts"), module("objects")]);
    let path: Vec<String> = ["super", "objects", "PostNode"].map(String::from).to_vec();
    assert_eq!(
        resolve(&module("posts"), &path, &known),
        Some(module("objects"))
    );
}
