//! The parsers read namespaces, not prefixes: a file whose every prefix is renamed (and
//! default namespaces turned into prefixed ones, and back) gives the same records.

use std::collections::BTreeSet;
use std::path::PathBuf;

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::{NsReader, Writer};

use super::xml::{Node, Records};
use super::{Record, blogger, wordpress};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/import")
        .join(name)
}

/// How a renaming names the namespace at an index: a prefix, or `None` for the default.
type PrefixScheme<'a> = &'a dyn Fn(usize) -> Option<String>;

/// The document with every namespaced element written under the prefix `prefix(index)`
/// of its namespace URI (`None`: the default namespace), declared once on the root.
fn renamed(xml: &[u8], prefix: PrefixScheme<'_>) -> Vec<u8> {
    // Pass 1: the namespace URIs elements use, in a fixed order.
    let mut uris = BTreeSet::new();
    let mut reader = NsReader::from_reader(xml);
    let mut buffer = Vec::new();
    loop {
        buffer.clear();
        match reader.read_resolved_event_into(&mut buffer).expect("xml") {
            (ResolveResult::Bound(ns), Event::Start(_) | Event::Empty(_)) => {
                uris.insert(String::from_utf8_lossy(ns.as_ref()).into_owned());
            }
            (_, Event::Eof) => break,
            _ => {}
        }
    }
    let uris: Vec<String> = uris.into_iter().collect();
    let prefix_of = |uri: &[u8]| {
        let index = uris
            .iter()
            .position(|known| known.as_bytes() == uri)
            .expect("known uri");
        prefix(index)
    };
    let qualified = |uri: Option<&[u8]>, local: &[u8]| -> String {
        let local = String::from_utf8_lossy(local);
        match uri.map(prefix_of) {
            Some(Some(prefix)) => format!("{prefix}:{local}"),
            _ => local.into_owned(),
        }
    };

    // Pass 2: write it again.
    let mut reader = NsReader::from_reader(xml);
    let mut writer = Writer::new(Vec::new());
    let mut root = true;
    let mut names = Vec::new();
    let mut defaults: Vec<Option<Vec<u8>>> = Vec::new();
    loop {
        buffer.clear();
        let (namespace, event) = reader.read_resolved_event_into(&mut buffer).expect("xml");
        let uri = match &namespace {
            ResolveResult::Bound(ns) => Some(ns.as_ref().to_vec()),
            _ => None,
        };
        match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                let name = qualified(uri.as_deref(), start.local_name().as_ref());
                let mut element = BytesStart::new(name.clone());
                if root {
                    for (index, known) in uris.iter().enumerate() {
                        if let Some(prefix) = prefix(index) {
                            element.push_attribute((
                                format!("xmlns:{prefix}").as_str(),
                                known.as_str(),
                            ));
                        }
                    }
                    root = false;
                }
                // The default namespace is declared where it changes: on an element in the
                // unprefixed namespace under one that is not, and back (`xmlns=""`).
                let default_here = match &uri {
                    Some(ns) if prefix_of(ns).is_none() => Some(ns.clone()),
                    _ => None,
                };
                let inherited = defaults.last().cloned().flatten();
                if default_here != inherited {
                    let value = default_here
                        .as_deref()
                        .map(String::from_utf8_lossy)
                        .unwrap_or_default()
                        .into_owned();
                    element.push_attribute(("xmlns", value.as_str()));
                }
                for attribute in start.attributes().map(|attribute| attribute.expect("attr")) {
                    let key = attribute.key.as_ref();
                    if key == b"xmlns" || key.starts_with(b"xmlns:") {
                        continue;
                    }
                    element.push_attribute(attribute);
                }
                if matches!(event, Event::Start(_)) {
                    names.push(name);
                    defaults.push(default_here);
                    writer.write_event(Event::Start(element)).expect("write");
                } else {
                    writer.write_event(Event::Empty(element)).expect("write");
                }
            }
            Event::End(_) => {
                let name = names.pop().expect("open element");
                defaults.pop();
                writer
                    .write_event(Event::End(quick_xml::events::BytesEnd::new(name)))
                    .expect("write");
            }
            Event::Eof => break,
            other => writer.write_event(other).expect("write"),
        }
    }
    writer.into_inner()
}

/// Every record of `xml` as the importer reads it, with the metadata outside records.
fn records(xml: &[u8], record: &'static str) -> Vec<String> {
    let mut records = Records::new(xml, record);
    let mut read = Vec::new();
    loop {
        let mut outside = Vec::new();
        let next = records
            .next_record(&mut |node: &Node| {
                outside.push(format!("{}={}", node.name, node.text.trim()))
            })
            .expect("records");
        read.extend(outside);
        let Some(node) = next else {
            return read;
        };
        let parsed = match record {
            "item" => wordpress::record(&node, &|_| None),
            _ => blogger::record(&node),
        };
        // The date a future post is compared with moves; the rest is the record.
        read.push(format!("{parsed:?}"));
        assert!(!matches!(parsed, Record::Failed { .. }), "{parsed:?}");
    }
}

/// Random prefixes (a seeded xorshift: the same cases every run), each a valid name, one
/// namespace sometimes the default.
fn random_scheme(seed: u64) -> impl Fn(usize) -> Option<String> {
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let default = (next() % 3 == 0).then(|| (next() % 4) as usize);
    let names: Vec<String> = (0..16)
        .map(|index| {
            let length = 1 + (next() % 10) as usize;
            let mut name: String = (0..length)
                .map(|_| {
                    char::from(b"abcdefghijklmnopqrstuvwyz0123456789_-."[(next() % 38) as usize])
                })
                .collect();
            // A name starts with a letter, never with `xml`; the index keeps them apart.
            name.insert(0, char::from(b'a' + (next() % 23) as u8));
            format!("{name}{index}")
        })
        .collect();
    move |index| (Some(index) != default).then(|| names[index].clone())
}

#[test]
fn renaming_every_prefix_changes_nothing() {
    let schemes: [(&str, PrefixScheme<'_>); 4] = [
        ("ns0, ns1…", &|index| Some(format!("ns{index}"))),
        ("one letter", &|index| {
            Some(char::from(b'a' + index as u8).to_string())
        }),
        ("long names", &|index| {
            Some(format!("namespace-number-{index}"))
        }),
        // The first URI as the default namespace, the rest prefixed.
        ("a default", &|index| {
            (index > 0).then(|| format!("p{index}"))
        }),
    ];
    for (file, record) in [
        ("themeunittestdata.wordpress.xml", "item"),
        ("wordpress.xml", "item"),
        ("blogger.xml", "atom:entry"),
        ("blogger-prefixed.xml", "atom:entry"),
    ] {
        let original = std::fs::read(fixture(file)).expect("fixture");
        let expected = records(&original, record);
        assert!(expected.len() > 3, "{file}: {expected:?}");
        for (scheme, prefix) in schemes {
            let changed = renamed(&original, prefix);
            assert_ne!(changed, original, "{file} {scheme}");
            assert_eq!(records(&changed, record), expected, "{file} with {scheme}");
        }
        for seed in 1..=12u64 {
            let prefix = random_scheme(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let changed = renamed(&original, &prefix);
            assert_ne!(changed, original, "{file} random scheme {seed}");
            assert_eq!(
                records(&changed, record),
                expected,
                "{file} with random scheme {seed}"
            );
        }
    }
}
