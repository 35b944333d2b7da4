//! Streaming an export one record (`<entry>`, `<item>`) at a time: each record becomes a
//! small tree, then is dropped, so memory follows the largest record, not the file.
//! Element names carry a fixed alias for their namespace (`wp:post_id`, `thr:in-reply-to`,
//! `atom:entry`), whatever prefixes the file chose: a name is matched by its namespace URI,
//! never by the prefix the file wrote.
//!
//! Bounds, checked while reading, before anything is kept: how deep elements nest, how
//! many bytes one piece of markup (a tag, a text, a CDATA section) may have, how many
//! namespace declarations are in scope, and how many bytes of text one record may hold
//! (docs/import.md).

use std::io::{BufRead, Read};

use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;

use super::ImportError;

/// Deeper than any export needs (an item is about four levels down); also what keeps a
/// hostile file from overflowing the stack when its tree is dropped.
pub const MAX_DEPTH: usize = 100;
/// One tag, text or CDATA section: a post's whole body is one, so this is generous.
pub const MAX_MARKUP_BYTES: u64 = 32 * 1024 * 1024;
/// What one record (a post with its comments, or a Blogger entry) may hold: its text, and
/// for each element and attribute what keeping it costs ([`NODE_COST`]).
pub const MAX_RECORD_BYTES: usize = 64 * 1024 * 1024;
/// Namespace declarations (`xmlns`, `xmlns:p`) in scope at once. Exports declare about
/// ten; each one in scope is a step in resolving every element name after it, so a file
/// declaring 400,000 made every later element cost a scan of them all.
pub const MAX_NAMESPACE_DECLARATIONS: usize = 256;
/// What an element or attribute costs a record beyond its text (the tree node kept for it),
/// so a record of millions of empty elements is as bounded as one of text.
const NODE_COST: usize = 128;

/// One element: its name (`alias:local`), attributes (by local name), text and children.
#[derive(Debug, Default, Clone)]
pub struct Node {
    pub name: String,
    pub attributes: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<Node>,
}

impl Node {
    /// What keeping this node costs a record, beyond its text.
    fn cost(&self) -> usize {
        NODE_COST
            + self.name.len()
            + self
                .attributes
                .iter()
                .map(|(key, value)| NODE_COST + key.len() + value.len())
                .sum::<usize>()
    }

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

/// The alias of a namespace URI. WordPress has written its export namespaces with `http`
/// and (WordPress.com, the Theme Unit Test file) `https`, for WXR 1.0 to 1.2.
pub fn alias(namespace: &[u8]) -> &'static str {
    match namespace {
        b"http://www.w3.org/2005/Atom" => "atom",
        b"http://purl.org/syndication/thread/1.0" => "thr",
        b"http://www.w3.org/2007/app" | b"http://purl.org/atom/app#" => "app",
        b"http://schemas.google.com/g/2005" => "gd",
        b"http://purl.org/rss/1.0/modules/content/" => "content",
        b"http://purl.org/dc/elements/1.1/" => "dc",
        b"urn:gazette:export:1" => "gazette",
        other => wordpress_alias(other).unwrap_or("other"),
    }
}

/// `wp` or `excerpt` for WordPress's export namespaces (`http(s)://wordpress.org/export/1.x/`
/// and its `excerpt/`).
fn wordpress_alias(namespace: &[u8]) -> Option<&'static str> {
    let rest = namespace
        .strip_prefix(b"https://wordpress.org/export/")
        .or_else(|| namespace.strip_prefix(b"http://wordpress.org/export/"))?;
    match rest {
        b"1.0/" | b"1.1/" | b"1.2/" => Some("wp"),
        b"1.0/excerpt/" | b"1.1/excerpt/" | b"1.2/excerpt/" => Some("excerpt"),
        _ => None,
    }
}

/// Whether `namespace` is WordPress's export namespace (any WXR version, http or https).
pub fn is_wordpress_namespace(namespace: &[u8]) -> bool {
    wordpress_alias(namespace) == Some("wp")
}

/// The input as the XML reader sees it, counting lines (for errors a person can find) and
/// the bytes of the markup being read, refusing more than [`MAX_MARKUP_BYTES`] before it
/// is buffered.
pub struct Counted<R> {
    inner: R,
    line: u64,
    bytes: u64,
    markup_bytes: u64,
    /// Set when the markup limit stopped the reader (shared: the reader's error borrows it).
    too_large: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl<R> Counted<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            line: 1,
            bytes: 0,
            markup_bytes: 0,
            too_large: std::sync::Arc::default(),
        }
    }

    /// The line the reader is on (1-based).
    pub fn line(&self) -> u64 {
        self.line
    }

    fn start_markup(&mut self) {
        self.markup_bytes = 0;
    }
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.count(&buf[..read]);
        Ok(read)
    }
}

impl<R> Counted<R> {
    fn count(&mut self, bytes: &[u8]) {
        self.line += newlines(bytes);
        self.bytes += bytes.len() as u64;
        self.markup_bytes += bytes.len() as u64;
    }
}

fn newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|byte| **byte == b'\n').count() as u64
}

impl<R: BufRead> BufRead for Counted<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.markup_bytes > MAX_MARKUP_BYTES {
            self.too_large
                .store(true, std::sync::atomic::Ordering::Relaxed);
            return Err(std::io::Error::other("markup too large"));
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        let (lines, bytes) = match self.inner.fill_buf() {
            Ok(buffer) => {
                let taken = &buffer[..amount.min(buffer.len())];
                (newlines(taken), taken.len() as u64)
            }
            Err(_) => (0, 0),
        };
        self.line += lines;
        self.bytes += bytes;
        self.markup_bytes += bytes;
        self.inner.consume(amount);
    }
}

/// Reads records named `record` (e.g. `atom:entry`) one at a time; elements outside
/// records are passed to `outside` as childless nodes with their text (the file's root
/// and channel metadata: `atom:id`, `wp:base_site_url`…), in document order.
pub struct Records<R: BufRead> {
    reader: NsReader<Counted<R>>,
    buffer: Vec<u8>,
    record: &'static str,
    /// Elements open outside any record, for their text.
    outside: Vec<Node>,
    /// The namespace declarations of each open element, innermost last.
    declared: Vec<usize>,
}

impl<R: BufRead> Records<R> {
    pub fn new(input: R, record: &'static str) -> Self {
        let mut reader = NsReader::from_reader(Counted::new(input));
        reader.config_mut().trim_text(false);
        Self {
            reader,
            buffer: Vec::new(),
            record,
            outside: Vec::new(),
            declared: Vec::new(),
        }
    }

    /// How many bytes of the file have been read.
    pub fn bytes_read(&self) -> u64 {
        self.reader.get_ref().bytes
    }

    /// An error at `line` about what was being read.
    fn refuse(line: u64, detail: impl Into<String>) -> ImportError {
        ImportError::Xml {
            line,
            detail: detail.into(),
        }
    }

    /// The next record, or `None` at the end; `on_outside` sees each element that ends
    /// outside a record (with its text, without children).
    pub fn next_record(
        &mut self,
        on_outside: &mut dyn FnMut(&Node),
    ) -> Result<Option<Node>, ImportError> {
        let mut stack: Vec<Node> = Vec::new();
        let mut record_bytes = 0usize;
        loop {
            self.buffer.clear();
            self.reader.get_mut().start_markup();
            let line = self.reader.get_ref().line();
            let too_large = self.reader.get_ref().too_large.clone();
            let read = self.reader.read_resolved_event_into(&mut self.buffer);
            let (namespace, event) = match read {
                Ok(read) => read,
                Err(_) if too_large.load(std::sync::atomic::Ordering::Relaxed) => {
                    return Err(Self::refuse(
                        line,
                        format!(
                            "one tag or text is larger than {} MiB, more than an export needs",
                            MAX_MARKUP_BYTES / (1024 * 1024)
                        ),
                    ));
                }
                Err(error) => return Err(Self::refuse(line, error.to_string())),
            };
            let namespace_alias = match namespace {
                ResolveResult::Bound(ns) => alias(ns.as_ref()),
                _ => "",
            };
            let opens = matches!(event, Event::Start(_) | Event::Empty(_));
            if opens && stack.len() + self.outside.len() >= MAX_DEPTH {
                return Err(Self::refuse(
                    line,
                    format!(
                        "elements are nested more than {MAX_DEPTH} deep, deeper than any export"
                    ),
                ));
            }
            if let Event::Start(start) | Event::Empty(start) = &event {
                let declares = declarations(start);
                let in_scope = self.declared.iter().sum::<usize>() + declares;
                if in_scope > MAX_NAMESPACE_DECLARATIONS {
                    return Err(Self::refuse(
                        line,
                        format!(
                            "{in_scope} namespace declarations are in scope, more than the \
                             {MAX_NAMESPACE_DECLARATIONS} an export could need"
                        ),
                    ));
                }
                if matches!(event, Event::Start(_)) {
                    self.declared.push(declares);
                }
            }
            if matches!(event, Event::End(_)) {
                self.declared.pop();
            }
            match event {
                Event::Decl(declaration) => {
                    // Gazette reads UTF-8 (and its ASCII subset), as every exporter writes.
                    if let Some(Ok(encoding)) = declaration.encoding() {
                        let encoding = String::from_utf8_lossy(&encoding).to_ascii_lowercase();
                        if !matches!(encoding.as_str(), "utf-8" | "utf8" | "us-ascii" | "ascii") {
                            return Err(Self::refuse(
                                line,
                                format!(
                                    "the file is encoded in {encoding}; save it as UTF-8 and import it again"
                                ),
                            ));
                        }
                    }
                }
                Event::Start(start) => {
                    let node = element(&start, namespace_alias);
                    record_bytes += node.cost();
                    if !stack.is_empty() || node.name == self.record {
                        stack.push(node);
                    } else {
                        self.outside.push(node);
                    }
                }
                Event::Empty(start) => {
                    let node = element(&start, namespace_alias);
                    record_bytes += node.cost();
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
                        .map_err(|error| Self::refuse(line, error.to_string()))?;
                    check_characters(line, &text)?;
                    record_bytes += text.len();
                    append(&mut stack, &mut self.outside, &text);
                }
                Event::CData(data) => {
                    let text = std::str::from_utf8(&data).map_err(|_| {
                        Self::refuse(
                            line,
                            "the text is not UTF-8; save the file as UTF-8 and import it again",
                        )
                    })?;
                    check_characters(line, text)?;
                    record_bytes += text.len();
                    append(&mut stack, &mut self.outside, text);
                }
                Event::Eof if stack.is_empty() && self.outside.is_empty() => return Ok(None),
                Event::Eof => {
                    return Err(Self::refuse(
                        line,
                        "the file ends inside an element: it is cut off (was the export or the download interrupted?)",
                    ));
                }
                _ => {}
            }
            if !stack.is_empty() && record_bytes > MAX_RECORD_BYTES {
                return Err(Self::refuse(
                    line,
                    format!(
                        "one record holds more than {} MiB (its text and elements), more than an export needs",
                        MAX_RECORD_BYTES / (1024 * 1024)
                    ),
                ));
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

/// XML 1.0 allows no NUL (nor most control characters); PostgreSQL's text holds no NUL.
fn check_characters(line: u64, text: &str) -> Result<(), ImportError> {
    match text
        .chars()
        .find(|c| (*c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r'))
    {
        Some(control) => Err(ImportError::Xml {
            line,
            detail: format!(
                "the text holds the control character U+{:04X}, which XML does not allow",
                control as u32
            ),
        }),
        None => Ok(()),
    }
}

/// Text kept of an element outside records: their metadata is short, and the text of
/// the elements around the records (the whitespace between a channel's items) is not kept
/// past this.
const MAX_OUTSIDE_TEXT_BYTES: usize = 64 * 1024;

/// Text goes to the innermost open element, in a record or outside.
fn append(stack: &mut [Node], outside: &mut [Node], text: &str) {
    if let Some(open) = stack.last_mut() {
        open.text.push_str(text);
    } else if let Some(open) = outside.last_mut()
        && open.text.len() + text.len() <= MAX_OUTSIDE_TEXT_BYTES
    {
        open.text.push_str(text);
    }
}

/// How many namespaces `start` declares.
fn declarations(start: &BytesStart<'_>) -> usize {
    start
        .attributes()
        .with_checks(false)
        .filter_map(Result::ok)
        .filter(|attribute| {
            let key = attribute.key.as_ref();
            key == b"xmlns" || key.starts_with(b"xmlns:")
        })
        .count()
}

fn element(start: &BytesStart<'_>, namespace_alias: &str) -> Node {
    let local = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
    let name = match namespace_alias {
        "" => local,
        ns => format!("{ns}:{local}"),
    };
    // Without the duplicate check: it compares every attribute with every other, and a tag
    // of many thousands of attributes would cost minutes (the first of a name wins below).
    let attributes = start
        .attributes()
        .with_checks(false)
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
