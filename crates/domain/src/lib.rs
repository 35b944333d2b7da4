//! Gazette's domain, below every transport: who may see and do what ([`policy`]), the use
//! cases that write ([`publishing`], [`commenting`]), and the errors they report. Nothing
//! here knows about GraphQL or HTTP; the API and the worker call in.

pub mod channels;
pub mod clients;
pub mod commenting;
pub mod edit_tokens;
mod error;
pub mod feeds;
pub mod import;
pub mod offload;
pub mod policy;
pub mod publishing;

pub use clients::ClientKey;
pub use edit_tokens::{EditTokenKey, EditTokenKeyError};
pub use error::DomainError;
pub use policy::Viewer;

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Reads that skip the visibility rules (`…_unchecked`) belong to the use cases here,
    /// which check the policy next; the transports and the worker must read through it.
    #[test]
    fn only_the_domain_reads_unchecked() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut offenders = Vec::new();
        for dir in ["crates/api/src", "crates/worker/src", "src"] {
            visit(&root.join(dir), &mut |path, text| {
                if text.contains("_unchecked(") {
                    offenders.push(path.display().to_string());
                }
            });
        }
        assert!(
            offenders.is_empty(),
            "unchecked reads outside the domain: {offenders:?}"
        );
    }

    fn visit(dir: &Path, found: &mut dyn FnMut(&Path, &str)) {
        let entries = std::fs::read_dir(dir).expect("a source directory");
        for entry in entries {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                visit(&path, found);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                let text = std::fs::read_to_string(&path).expect("a source file");
                found(&path, &text);
            }
        }
    }
}
