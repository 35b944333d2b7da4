//! Streaming an export one record (`<entry>`, `<item>`) at a time: each record becomes a
//! small tree, then is dropped, so memory follows the largest record, not the file.
//! Element names carry a fixed alias for their namespace (`wp:post_id`, `thr:in-reply-to`,
//! `atom:entry`), whatever prefixes the file chose.

use std::io::BufRead;

use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;

use super::ImportError;

/// One element: its name (`alias:local`), attributes (by local name), text and children.
#[derive(Debug, Default, Clone)]
pub struct Node {
    pub name: String,
    pub attributes: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<Node>,
}

impl Node {
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|child| child.name == name)
    }

    pub fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |child| child.name == name)
    }

    /// The trimmed text of the child `name`, if present and not empty.
    pub fn text_of(&self, name: &str) -> Option<String> {
        self.child(name)
            .map(|child| child.text.trim().to_owned())
            .filter(|text| !text.is_empty())
    }

    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

fn alias(namespace: &[u8]) -> &'static str {
    match namespace {
        b"http://www.w3.org/2005/Atom" => "atom",
        b"http://purl.org/syndication/thread/1.0" => "thr",
        b"http://www.w3.org/2007/app" | b"http://purl.org/atom/app#" => "app",
        b"http://schemas.google.com/g/2005" => "gd",
        b"http://purl.org/rss/1.0/modules/content/" => "content",
        b"http://purl.org/dc/elements/1.1/" => "dc",
        b"http://wordpress.org/export/1.2/excerpt/"
        | b"http://wordpress.org/export/1.1/excerpt/"
        | b"http://wordpress.org/export/1.0/excerpt/" => "excerpt",
        b"http://wordpress.org/export/1.2/"
        | b"http://wordpress.org/export/1.1/"
        | b"http://wordpress.org/export/1.0/" => "wp",
        _ => "other",
    }
}

/// Reads records named `record` (e.g. `atom:entry`) one at a time; elements outside
/// records are passed to `outside` as childless nodes with their text (the file's root
/// and channel metadata: `atom:id`, `wp:base_site_url`…), in document order.
pub struct Records<R: BufRead> {
    reader: NsReader<R>,
    buffer: Vec<u8>,
    record: &'static str,
    /// Elements open outside any record, for their text.
    outside: Vec<Node>,
}

impl<R: BufRead> Records<R> {
    pub fn new(input: R, record: &'static str) -> Self {
        let mut reader = NsReader::from_reader(input);
        reader.config_mut().trim_text(false);
        Self {
            reader,
            buffer: Vec::new(),
            record,
            outside: Vec::new(),
        }
    }

    /// The next record, or `None` at the end; `on_outside` sees each element that ends
    /// outside a record (with its text, without children).
    pub fn next_record(
        &mut self,
        on_outside: &mut dyn FnMut(&Node),
    ) -> Result<Option<Node>, ImportError> {
        let mut stack: Vec<Node> = Vec::new();
        loop {
            self.buffer.clear();
            let position = self.reader.buffer_position();
            let (namespace, event) = self
                .reader
                .read_resolved_event_into(&mut self.buffer)
                .map_err(|error| ImportError::Xml {
                    position,
                    detail: error.to_string(),
                })?;
            let namespace_alias = match namespace {
                ResolveResult::Bound(ns) => alias(ns.as_ref()),
                _ => "",
            };
            match event {
                Event::Start(start) => {
                    let node = element(&start, namespace_alias);
                    if !stack.is_empty() || node.name == self.record {
                        stack.push(node);
                    } else {
                        self.outside.push(node);
                    }
                }
                Event::Empty(start) => {
                    let node = element(&start, namespace_alias);
                    if !stack.is_empty() || node.name == self.record {
                        stack.push(node);
                        if let Some(done) = self.close(&mut stack) {
                            return Ok(Some(done));
                        }
                    } else {
                        on_outside(&node);
                    }
                }
                Event::End(_) => {
                    if stack.is_empty() {
                        if let Some(node) = self.outside.pop() {
                            on_outside(&node);
                        }
                    } else if let Some(done) = self.close(&mut stack) {
                        return Ok(Some(done));
                    }
                }
                Event::Text(text) => {
                    let text = text
                        .unescape()
                        .map_err(|error| ImportError::Xml {
                            position,
                            detail: error.to_string(),
                        })?
                        .into_owned();
                    append(&mut stack, &mut self.outside, &text);
                }
                Event::CData(data) => {
                    let text = String::from_utf8_lossy(&data).into_owned();
                    append(&mut stack, &mut self.outside, &text);
                }
                Event::Eof => return Ok(None),
                _ => {}
            }
        }
    }

    /// Closes the innermost open element; returns the record when it was the record.
    fn close(&mut self, stack: &mut Vec<Node>) -> Option<Node> {
        let node = stack.pop()?;
        match stack.last_mut() {
            Some(parent) => {
                parent.children.push(node);
                None
            }
            None => Some(node),
        }
    }
}

/// Text goes to the innermost open element, in a record or outside.
fn append(stack: &mut [Node], outside: &mut [Node], text: &str) {
    if let Some(open) = stack.last_mut().or(outside.last_mut()) {
        open.text.push_str(text);
    }
}

fn element(start: &BytesStart<'_>, namespace_alias: &str) -> Node {
    let local = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
    let name = match namespace_alias {
        "" => local,
        ns => format!("{ns}:{local}"),
    };
    let attributes = start
        .attributes()
        .filter_map(Result::ok)
        .map(|attribute| {
            let key = String::from_utf8_lossy(attribute.key.local_name().as_ref()).into_owned();
            let value = attribute
                .unescape_value()
                .map(|value| value.into_owned())
                .unwrap_or_default();
            (key, value)
        })
        .collect();
    Node {
        name,
        attributes,
        ..Node::default()
    }
}
